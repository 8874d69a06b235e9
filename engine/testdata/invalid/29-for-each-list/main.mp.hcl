resource "fake_file" "a" {
  for_each = ["x", "y"] # ERROR: Invalid for_each argument
  path     = "/tmp/${each.key}"
  content  = each.value
}
