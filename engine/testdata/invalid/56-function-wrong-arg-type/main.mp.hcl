resource "fake_file" "a" {
  path    = "/tmp/a"
  content = upper(["a", "b"]) # ERROR: Invalid function argument
}
