module "maps" {
  source = "./modules/maps" # ERROR: Module not found
}
