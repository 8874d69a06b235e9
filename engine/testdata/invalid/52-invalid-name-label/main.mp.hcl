resource "fake_file" "1st" { # ERROR: Invalid name
  path    = "/tmp/a"
  content = "x"
}
