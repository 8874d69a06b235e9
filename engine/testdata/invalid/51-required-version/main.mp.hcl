mailplan {
  required_version = ">= 99.0.0" # ERROR: Unsupported mailplan version
}
