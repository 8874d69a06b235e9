resource "fake_file" "a" {
  path    = "/tmp/m"
  content = "x"
}

moved {
  from = fake_file.old # ERROR: Invalid moved block
  to   = module.x
}
