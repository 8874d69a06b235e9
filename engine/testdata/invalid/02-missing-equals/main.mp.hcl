resource "fake_file" "a" {
  path "/tmp/a" # ERROR: Invalid block definition
  content = "x"
}
