host "old" {
  address = "203.0.113.10"
  port    = 70000 # ERROR: Invalid port
}
