resource "fake_file" "a" {
  path    = "/tmp/a"
  content = fake_file.a.path # ERROR: Self-referential block
}
