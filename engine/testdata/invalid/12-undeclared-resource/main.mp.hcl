resource "fake_file" "a" {
  path    = "/tmp/a"
  content = fake_file.b.content # ERROR: Reference to undeclared resource
}
