variable "files" {
  type    = map(string)
  default = null
}

resource "fake_file" "a" {
  for_each = var.files # ERROR: Invalid for_each argument
  path     = "/tmp/${each.key}"
  content  = each.value
}
