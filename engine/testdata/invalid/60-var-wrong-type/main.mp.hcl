variable "port" { # ERROR: Invalid value for variable
  type = number
}
