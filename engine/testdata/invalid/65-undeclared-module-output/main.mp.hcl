module "m" {
  source = "./m"
}

resource "fake_file" "a" {
  path    = "/tmp/a"
  content = module.m.nope # ERROR: Unsupported attribute
}
