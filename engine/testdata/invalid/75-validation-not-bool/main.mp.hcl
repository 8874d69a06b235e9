variable "domain" {
  type    = string
  default = "example.com"
  validation {
    condition     = var.domain # ERROR: Invalid validation condition
    error_message = "domain must be set."
  }
}
