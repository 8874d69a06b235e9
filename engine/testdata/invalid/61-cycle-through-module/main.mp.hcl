module "m" {
  source = "./m"
  name   = fake_file.a.path
}

resource "fake_file" "a" { # ERROR: Dependency cycle
  path    = "/tmp/a"
  content = module.m.greeting
}
