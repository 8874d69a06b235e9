variable "password" {
  type      = string
  default   = "hunter2"
  sensitive = true
}

host "old" {
  address = "203.0.113.10"
}

resource "fake_file" "a" {
  path    = "/tmp/a"
  content = "x"
  hook "after_apply" {
    host    = host.old
    command = ["doveadm", "auth", "test", "probe", var.password] # ERROR: Sensitive value in a hook command
  }
}
