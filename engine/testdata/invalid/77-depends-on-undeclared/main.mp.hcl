resource "fake_file" "a" {
  path       = "/tmp/a"
  content    = "x"
  depends_on = [fake_file.b] # ERROR: Reference to undeclared resource
}
