host "old" {
  address = "203.0.113.10"
}

host "old" { # ERROR: Duplicate host
  address = "203.0.113.11"
}
