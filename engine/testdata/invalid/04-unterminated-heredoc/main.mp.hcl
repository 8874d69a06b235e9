resource "fake_file" "a" {
  path    = "/tmp/a"
  content = <<EOT
hello
# ERROR: Unterminated template string