mailplan { # ERROR: Settings block in a module
  required_version = ">= 0.1.0"
}
