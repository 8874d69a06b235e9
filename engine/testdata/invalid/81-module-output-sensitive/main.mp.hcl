module "m" {
  source   = "./m"
  password = "hunter2"
}
