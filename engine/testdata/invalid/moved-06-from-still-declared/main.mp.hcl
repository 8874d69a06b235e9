resource "fake_file" "a" {
  path    = "/tmp/a"
  content = "x"
}

resource "fake_file" "b" {
  path    = "/tmp/b"
  content = "x"
}

moved {
  from = fake_file.a # ERROR: Moved object still declared
  to   = fake_file.b
}
