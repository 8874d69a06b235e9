resource "fake_file" "a" {
  path    = "/tmp/a"
  content = each.value # ERROR: Reference to "each" in context without for_each
}
