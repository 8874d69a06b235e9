resource "fake_file" "a" {
  path    = "/tmp/a"
  content = "x"
}
