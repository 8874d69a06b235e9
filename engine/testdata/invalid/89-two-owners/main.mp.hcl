resource "fake_file" "a" {
  path    = "/srv/x"
  content = "a"
}

resource "fake_file" "b" {
  path    = "/srv/x" # ERROR: Two resources manage the same thing
  content = "b"
}
