resource "fake_file" "a" {
  path    = "/tmp/a"
  content = "x"
  lifecycle {
    prevent_destroy = true
  }
  lifecycle { # ERROR: Duplicate lifecycle block
    ignore_changes = [content]
  }
}
