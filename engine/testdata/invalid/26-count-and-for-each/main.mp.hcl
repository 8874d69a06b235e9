resource "fake_file" "a" {
  count    = 2
  for_each = toset(["x", "y"]) # ERROR: Invalid combination of count and for_each
  path     = "/tmp/a"
  content  = "x"
}
