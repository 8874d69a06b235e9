module "m" {
  source = "./child"
}

module "m" { # ERROR: Duplicate module
  source = "./child"
}
