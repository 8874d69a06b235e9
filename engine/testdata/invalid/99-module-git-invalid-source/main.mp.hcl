module "relay" {
  source = "git::git.example/ops/mail-modules.git//relay-to-new?ref=v1.2.0" # ERROR: Invalid module source
}
