variable "name" {
  type = string
}

module "inner" {
  source = "../inner"
  n      = var.name == "b" ? -1 : 1
}
