module "m" {
  for_each = toset(["a", "b"])
  source   = "./modules/m"
  name     = each.key
}
