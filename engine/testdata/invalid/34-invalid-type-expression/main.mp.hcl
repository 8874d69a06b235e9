variable "domains" {
  type = list(strin) # ERROR: Invalid type specification
}
