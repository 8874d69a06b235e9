variable "n" {
  type = number
}

resource "fake_file" "x" {
  count   = var.n # ERROR: Invalid count argument
  path    = "/tmp/x${count.index}"
  content = "x"
}
