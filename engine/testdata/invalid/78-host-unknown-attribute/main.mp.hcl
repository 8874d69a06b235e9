host "old" {
  address = "203.0.113.10"
  pasword = "x" # ERROR: Unsupported argument
}
