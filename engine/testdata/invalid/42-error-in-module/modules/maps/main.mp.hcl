variable "domain" {
  type = string
}

resource "fake_file" "a" {
  path    = "/tmp/${var.domain}"
  content = var.domian # ERROR: Reference to undeclared input variable
}
