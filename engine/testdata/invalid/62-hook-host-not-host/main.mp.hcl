resource "fake_file" "a" {
  path    = "/tmp/a"
  content = "x"
  hook "before_apply" {
    host    = "old" # ERROR: Invalid hook host
    command = ["postfix", "check"]
  }
}
