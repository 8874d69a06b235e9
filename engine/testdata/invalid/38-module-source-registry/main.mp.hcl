module "maps" {
  source = "hashicorp/x" # ERROR: Unsupported module source
}
