variable "n" {
  type      = number
  default   = 2
  sensitive = true
}

resource "fake_file" "a" {
  count   = var.n # ERROR: Invalid count argument
  path    = "/tmp/a${count.index}"
  content = "x"
}
