variable "password" {
  type      = string
  default   = "hunter2"
  sensitive = true
}

output "password" {
  value = "pw: ${var.password}" # ERROR: Output refers to sensitive values
}
