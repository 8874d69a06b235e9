variable "x" {
  type = any
}
