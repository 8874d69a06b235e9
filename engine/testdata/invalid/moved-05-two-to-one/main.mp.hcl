resource "fake_file" "c" {
  path    = "/tmp/c"
  content = "x"
}

moved {
  from = fake_file.a
  to   = fake_file.c
}

moved {
  from = fake_file.b
  to   = fake_file.c # ERROR: Two moves to one address
}
