resource "fake_file" "a" {
  path    = "/tmp/a"
  content = "x"
  lifecycle {
    prevent_destroy = "always" # ERROR: Invalid prevent_destroy
  }
}
