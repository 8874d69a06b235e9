module "maps" {
  source = "./maps"
  domain = "example.com"
  domian = "example.com" # ERROR: Unsupported argument
}
