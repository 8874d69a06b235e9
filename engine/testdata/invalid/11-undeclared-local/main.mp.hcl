locals {
  greeting = "hello"
}

resource "fake_file" "a" {
  path    = "/tmp/a"
  content = local.greting # ERROR: Reference to undeclared local value
}
