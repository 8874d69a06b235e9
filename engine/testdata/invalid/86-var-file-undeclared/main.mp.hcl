variable "domain" {
  type = string
}
