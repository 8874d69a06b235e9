provider "postfix" { # ERROR: Unsupported block type
}

resource "fake_file" "a" {
  path    = "/tmp/a"
  content = "x"
}
