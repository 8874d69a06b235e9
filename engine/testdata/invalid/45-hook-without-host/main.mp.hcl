resource "fake_file" "a" {
  path    = "/tmp/a"
  content = "x"
  hook "before_apply" { # ERROR: Missing required argument
    command = ["postfix", "check"]
  }
}
