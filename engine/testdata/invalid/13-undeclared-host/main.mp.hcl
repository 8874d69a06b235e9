host "old" {
  address = "203.0.113.10"
}

resource "fake_file" "a" {
  path    = "/tmp/a"
  content = "x"
  hook "after_apply" {
    host    = host.new # ERROR: Reference to undeclared host
    command = ["true"]
  }
}
