module "maps" {
  source = "./modules/maps"
  domain = "example.com"
}
