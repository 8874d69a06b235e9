resource "fake_file" "a" { # ERROR: Missing required argument
  path = "/tmp/a"
}
