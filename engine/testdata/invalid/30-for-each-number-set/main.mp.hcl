resource "fake_file" "a" {
  for_each = toset([1, 2]) # ERROR: Invalid for_each argument
  path     = "/tmp/${each.key}"
  content  = "x"
}
