resource "fake_file" "c" {
  path    = "/tmp/c"
  content = "x"
}

moved { # ERROR: Cyclic moves
  from = fake_file.a
  to   = fake_file.b
}

moved {
  from = fake_file.b
  to   = fake_file.a
}
