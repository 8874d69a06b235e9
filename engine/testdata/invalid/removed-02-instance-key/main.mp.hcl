removed {
  from = fake_file.a[0] # ERROR: Instance keys not allowed
}
