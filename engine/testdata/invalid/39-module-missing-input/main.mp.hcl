module "maps" { # ERROR: Missing required argument
  source = "./maps"
}
