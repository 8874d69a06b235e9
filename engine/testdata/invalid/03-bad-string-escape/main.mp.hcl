resource "fake_file" "a" {
  path    = "/tmp/a"
  content = "tab\q" # ERROR: Invalid escape sequence
}
