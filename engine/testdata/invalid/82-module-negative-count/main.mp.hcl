module "m" {
  count  = -2 # ERROR: Invalid count argument
  source = "./m"
}
