resource "fake_file" "a" { # ERROR: Unclosed configuration block
  path    = "/tmp/a"
  content = "x"
