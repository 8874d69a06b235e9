variable "domains" {
  type = list(string)
}
