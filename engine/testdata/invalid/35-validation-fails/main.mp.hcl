variable "domain" { # ERROR: Invalid value for variable
  type    = string
  default = "Example.COM"
  validation {
    condition     = can(regex("^[a-z0-9.-]+$", var.domain))
    error_message = "domain must be a lower-case DNS name."
  }
}
