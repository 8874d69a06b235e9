resource "fake_file" "a" { # ERROR: Duplicate resource
  path    = "/tmp/a"
  content = "y"
}
