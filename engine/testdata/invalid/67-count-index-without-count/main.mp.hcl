resource "fake_file" "a" {
  path    = "/tmp/a${count.index}" # ERROR: Reference to "count" in context without count
  content = "x"
}
