resource "fake_file" "a" { # ERROR: Dependency cycle
  path    = "/tmp/a"
  content = fake_file.b.content
}

resource "fake_file" "b" {
  path    = "/tmp/b"
  content = fake_file.a.content
}
