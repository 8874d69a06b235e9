resource "fake_file" "a" {
  path    = "/tmp/a"
  content = "x"
  lifecycle {
    ignore_changes = [contents] # ERROR: Invalid ignore_changes entry
  }
}
