resource "fake_file" "a" {
  count   = -1 # ERROR: Invalid count argument
  path    = "/tmp/a"
  content = "x"
}
