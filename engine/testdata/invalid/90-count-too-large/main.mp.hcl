resource "fake_file" "a" {
  count   = 10000000000 # ERROR: Too many instances
  path    = "/tmp/a${count.index}"
  content = "x"
}
