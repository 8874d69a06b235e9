resource "fake_file" "a" {
  count   = 2
  path    = "/tmp/a${count.index}"
  content = "x"
}

moved {
  from = fake_file.a[1] # ERROR: Moved object still declared
  to   = fake_file.a[2]
}
