resource "fake_file" "b" {
  path    = "/tmp/b"
  content = "x"
}

moved {
  from = fake_file.a[0] # ERROR: Invalid moved block
  to   = fake_file.a[0]
}
