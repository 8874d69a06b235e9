resource "fake_file" "a" {
  path    = "/tmp/a"
  content = "x"
}

resource "fake_file" "b" {
  path    = "/tmp/b"
  content = length(fake_file) # ERROR: Invalid reference
}
