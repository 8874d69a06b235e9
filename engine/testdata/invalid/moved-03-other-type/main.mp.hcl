resource "fake_file" "b" {
  path    = "/tmp/b"
  content = "x"
}

moved {
  from = other_file.a # ERROR: Invalid moved block
  to   = fake_file.b
}
