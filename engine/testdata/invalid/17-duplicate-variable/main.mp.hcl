variable "domain" {
  default = "example.com"
}

variable "domain" { # ERROR: Duplicate variable
  default = "example.org"
}
