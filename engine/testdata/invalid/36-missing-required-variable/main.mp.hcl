variable "domain" { # ERROR: No value for required variable
  type = string
}

resource "fake_file" "a" {
  path    = "/tmp/a"
  content = var.domain
}
