resource "fake_file" "a" {
  count   = 1e30 # ERROR: Too many instances
  path    = "/tmp/a${count.index}"
  content = "x"
}
