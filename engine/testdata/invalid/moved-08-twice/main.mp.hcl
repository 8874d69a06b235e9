resource "fake_file" "b" {
  path    = "/tmp/b"
  content = "x"
}

resource "fake_file" "c" {
  path    = "/tmp/c"
  content = "x"
}

moved {
  from = fake_file.a
  to   = fake_file.b
}

moved {
  from = fake_file.a # ERROR: Ambiguous move
  to   = fake_file.c
}
