host "old" {
  address = "203.0.113.10"
}

resource "fake_file" "a" {
  path    = "/tmp/a"
  content = "x"
  hook "before_apply" {
    host    = host.old
    command = "postfix check" # ERROR: Invalid hook command
  }
}
