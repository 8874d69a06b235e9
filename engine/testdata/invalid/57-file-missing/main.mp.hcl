resource "fake_file" "a" {
  path    = "/tmp/a"
  content = file("templates/missing.cf") # ERROR: Error in function call
}
