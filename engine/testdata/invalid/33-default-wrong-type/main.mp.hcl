variable "port" {
  type    = number
  default = "smtp" # ERROR: Invalid default value for variable
}
