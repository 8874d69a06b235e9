resource "fake_file" "a" {
  path    = "/tmp/a"
  content = "x"
}

resource "fake_file" "a" { # ERROR: Duplicate resource
  path    = "/tmp/a2"
  content = "y"
}
