output "a" {
  value = "x"
}

output "b" {
  value = output.a # ERROR: Invalid reference
}
