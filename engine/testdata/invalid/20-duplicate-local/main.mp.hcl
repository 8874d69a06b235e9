locals {
  domain = "example.com"
}

locals {
  domain = "example.org" # ERROR: Duplicate local value
}
