# A git module that `mailplan init` has not installed: plan, apply and
# validate fetch nothing, they ask for init.
module "relay" {
  source = "git::https://git.example/ops/mail-modules.git//relay-to-new?ref=v1.2.0" # ERROR: Module not installed
}
