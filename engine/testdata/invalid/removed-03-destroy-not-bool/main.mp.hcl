removed {
  from = fake_file.a
  lifecycle {
    destroy = "no" # ERROR: Invalid destroy value
  }
}
