module "maps" {
  source  = "./maps"
  domains = "example.com" # ERROR: Invalid value for module argument
}
