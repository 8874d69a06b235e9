resource "fake_file" "a" {
  path    = "/tmp/a"
  content = "x"
  lifecycle {
    create_before_destroy = true # ERROR: Unsupported argument
  }
}
