# shadow-copy: while the old server still receives all mail, send a blind
# copy of every message for each domain to the new server, so that it can be
# tested with real traffic. Nothing changes for users or senders.
#
#   mailplan plan  -var old_address=203.0.113.10 -var 'new_server=[198.51.100.20]'
#   mailplan apply -var old_address=203.0.113.10 -var 'new_server=[198.51.100.20]'
#   mailplan rollback     # stop the copies: main.cf and tables exactly as before
#
# See README.md beside this file for every step.

variable "old_address" {
  type        = string
  description = "The old mail server, reached over SSH."
}

variable "old_port" {
  type    = number
  default = 22
}

variable "ssh_user" {
  type    = string
  default = "root"
}

variable "identity_file" {
  type    = string
  default = ""
}

variable "known_hosts" {
  type    = string
  default = "~/.ssh/known_hosts"
}

variable "new_server" {
  type        = string
  description = "The new server as an SMTP nexthop, e.g. \"[198.51.100.20]\" or \"[198.51.100.20]:2525\"."
}

variable "config_dir" {
  type        = string
  default     = "/etc/postfix"
  description = "The old server's Postfix instance."
}

variable "domains" {
  type        = map(list(string))
  description = "The domains to copy, each with the mailboxes to copy ([] for all)."
  default = {
    "example.com" = []
    "example.org" = []
  }
}

host "old" {
  address       = var.old_address
  port          = var.old_port
  user          = var.ssh_user
  identity_file = var.identity_file
  known_hosts   = var.known_hosts
}

module "shadow" {
  source   = "../../modules/postfix-shadow-copy"
  for_each = var.domains

  host       = host.old
  config_dir = var.config_dir
  domain     = each.key
  mailboxes  = each.value
  new_server = var.new_server
}

output "shadow_domains" {
  value = { for d, m in module.shadow : d => m.shadow_domain }
}
