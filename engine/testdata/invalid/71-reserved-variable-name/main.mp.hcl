variable "count" { # ERROR: Reserved variable name
  default = 1
}
