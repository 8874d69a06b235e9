resource "fake_file" "a" {
  count   = "two" # ERROR: Invalid count argument
  path    = "/tmp/a"
  content = "x"
}
