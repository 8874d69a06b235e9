resource "fake_file" "a" {
  path    = "/tmp/a"
  content = "x"
  colour  = "blue" # ERROR: Unsupported argument
}
