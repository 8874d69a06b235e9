module "maps" {
  source = "./maps"
}
