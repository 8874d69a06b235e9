variable "domain" {
  default = "example.com"
}

resource "fake_file" "a" {
  path    = "/tmp/a"
  content = var.domian # ERROR: Reference to undeclared input variable
}
