mailplan {
  required_version = "at least 0.1" # ERROR: Invalid required_version
}
