module "m" {
  source = "./empty" # ERROR: No plan files
}
