variable "domain" {
  type    = string
  default = "example.com"
}

resource "fake_file" "a" {
  path    = "/tmp/a"
  content = "x"
  count   = length(var.domain) + var.n # ERROR: Reference to undeclared input variable
}
