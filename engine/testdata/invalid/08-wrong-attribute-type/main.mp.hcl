resource "fake_file" "a" {
  path    = "/tmp/a"
  content = ["x", "y"] # ERROR: Incorrect attribute value type
}
