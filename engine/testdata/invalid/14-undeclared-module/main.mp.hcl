resource "fake_file" "a" {
  path    = "/tmp/a"
  content = module.maps.path # ERROR: Reference to undeclared module call
}
