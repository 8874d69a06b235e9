host "old" {
  address   = "203.0.113.10"
  transport = "telnet" # ERROR: Invalid transport
}
