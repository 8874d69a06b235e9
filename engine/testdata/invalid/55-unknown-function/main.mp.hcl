resource "fake_file" "a" {
  path    = "/tmp/a"
  content = regexescape("example.com") # ERROR: Call to unknown function
}
