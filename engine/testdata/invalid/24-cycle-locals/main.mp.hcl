locals {
  a = "${local.b}.example" # ERROR: Dependency cycle
  b = local.a
}
