module "maps" {
  source  = "./maps"
  version = "1.0.0" # ERROR: Unsupported argument
}
