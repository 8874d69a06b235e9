resource "fake_file" "a" {
  path    = "/tmp/m"
  content = "x"
}
