resource "fake_file" "b" {
  path    = "/tmp/b"
  content = "x"
}

moved {
  from = "fake_file.a" # ERROR: Invalid address
  to   = fake_file.b
}
