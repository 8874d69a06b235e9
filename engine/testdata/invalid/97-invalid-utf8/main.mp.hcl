locals {
  x = "café" # ERROR: Invalid character encoding
}
