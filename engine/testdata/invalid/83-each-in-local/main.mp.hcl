locals {
  name = "file-${each.key}" # ERROR: Reference to "each" in context without for_each
}
