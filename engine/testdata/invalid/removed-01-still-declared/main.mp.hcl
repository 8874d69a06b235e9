resource "fake_file" "a" {
  path    = "/tmp/a"
  content = "x"
}

removed {
  from = fake_file.a # ERROR: Removed object still declared
}
