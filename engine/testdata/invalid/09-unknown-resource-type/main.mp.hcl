resource "fake_directory" "a" { # ERROR: Unknown resource type
  path = "/tmp/a"
}
