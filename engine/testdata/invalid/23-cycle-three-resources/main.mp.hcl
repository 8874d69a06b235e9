resource "fake_file" "c" {
  path    = "/tmp/c"
  content = fake_file.a.content
}

resource "fake_file" "b" {
  path    = "/tmp/b"
  content = fake_file.c.content
}

resource "fake_file" "a" { # ERROR: Dependency cycle
  path       = "/tmp/a"
  content    = "x"
  depends_on = [fake_file.b]
}
