output "path" { # ERROR: Missing required argument
  description = "Where the file is."
}
