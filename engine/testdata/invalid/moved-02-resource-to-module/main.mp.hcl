module "b" {
  source = "./m"
}

moved {
  from = fake_file.a # ERROR: Invalid moved block
  to   = module.b
}
