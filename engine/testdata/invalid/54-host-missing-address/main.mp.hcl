host "old" { # ERROR: Missing required argument
  user = "root"
}
