host "old" {
  address = "203.0.113.10"
  port    = "twenty-two"
}

resource "file" "aliases" {
  host    = host.old
  path    = "etc/aliases"
  content = "root: admin\n"
}
