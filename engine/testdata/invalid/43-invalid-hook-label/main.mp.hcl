host "old" {
  address = "203.0.113.10"
}

resource "fake_file" "a" {
  path    = "/tmp/a"
  content = "x"
  hook "after_aply" { # ERROR: Invalid hook
    host    = host.old
    command = ["postfix", "check"]
  }
}
