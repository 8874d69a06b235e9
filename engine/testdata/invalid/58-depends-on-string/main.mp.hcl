resource "fake_file" "a" {
  path    = "/tmp/a"
  content = "x"
}

resource "fake_file" "b" {
  path       = "/tmp/b"
  content    = "y"
  depends_on = ["fake_file.a"] # ERROR: Invalid expression
}
