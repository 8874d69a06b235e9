# Keep /etc/aliases in step on the old and the new mail server, and rebuild
# the aliases database after each change.
#
#   mailplan plan  -var old_address=203.0.113.10 -var new_address=198.51.100.20
#   mailplan apply -var old_address=203.0.113.10 -var new_address=198.51.100.20
#
# An empty address means this machine (transport "local"); `make demo` runs
# it that way for both, against two sandbox directories (old_root and
# new_root). Both empty without roots would be one file managed twice, which
# mailplan refuses.

variable "old_address" {
  type        = string
  description = "The old server, reached over SSH as root; \"\" for this machine."
}

variable "new_address" {
  type        = string
  description = "The new server; \"\" for this machine."
}

variable "old_root" {
  type        = string
  default     = ""
  description = "A directory prefix for the old server's files (sandboxes only)."
}

variable "new_root" {
  type        = string
  default     = ""
  description = "A directory prefix for the new server's files (sandboxes only)."
}

variable "newaliases_command" {
  type        = list(string)
  default     = ["newaliases"]
  description = "What rebuilds the aliases database after a change."
}

host "old" {
  transport = var.old_address == "" ? "local" : "ssh"
  address   = var.old_address
}

host "new" {
  transport = var.new_address == "" ? "local" : "ssh"
  address   = var.new_address
}

locals {
  servers = {
    old = { host = host.old, root = var.old_root }
    new = { host = host.new, root = var.new_root }
  }
}

resource "file" "aliases" {
  for_each = local.servers

  host    = each.value.host
  path    = "${each.value.root}/etc/aliases"
  content = file("${path.module}/aliases")
  mode    = "0644"

  hook "after_apply" {
    host    = each.value.host
    command = var.newaliases_command
  }
}

output "aliases_paths" {
  value = { for k, f in file.aliases : k => f.path }
}
