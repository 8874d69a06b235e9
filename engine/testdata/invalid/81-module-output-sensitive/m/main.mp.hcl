variable "password" {
  type      = string
  sensitive = true
}

output "password" {
  value = var.password # ERROR: Output refers to sensitive values
}
