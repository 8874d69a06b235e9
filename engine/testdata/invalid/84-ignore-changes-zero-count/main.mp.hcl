resource "fake_file" "a" {
  count   = 0
  path    = "/tmp/a"
  content = "x"
  lifecycle {
    ignore_changes = [owner] # ERROR: Invalid ignore_changes entry
  }
}
