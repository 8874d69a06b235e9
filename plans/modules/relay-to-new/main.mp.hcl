# relay-to-new: the old Postfix stops delivering one domain itself and
# relays every message for it to the new server, so that mail which still
# reaches the old server (senders with the old MX cached, the old server's
# queue, backup MXs) ends up where the mailboxes now are.
#
#   new server: virtual_alias_maps  ALIAS@DOMAIN -> TARGET   (the domain's aliases)
#   old server: virtual_alias_maps  ALIAS@DOMAIN -> TARGET   (the same, kept in step)
#   old server: transport_maps      DOMAIN       -> smtp:NEW_SERVER
#
# transport_maps takes precedence over virtual_transport (and
# local_transport), so the domain stays in virtual_mailbox_domains (or
# mydestination) on the old server: its smtpd still accepts exactly the
# recipients it accepted before, and only the delivery changes. Rollback
# removes the entry and reloads Postfix; what the old server deferred for
# the new one meanwhile is then delivered locally at its next queue run.
#
# The aliases go to the new server first, then to the old one, and only
# then does the old server relay: a message never reaches a server that
# does not know the domain's aliases.

variable "domain" {
  type        = string
  description = "The domain to relay, e.g. example.com."
  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$", var.domain))
    error_message = "domain must be a lower-case DNS name such as example.com."
  }
}

variable "old" {
  description = "The old server: a host block, e.g. host.old."
}

variable "new" {
  description = "The new server: a host block, e.g. host.new."
}

variable "old_config_dir" {
  type    = string
  default = "/etc/postfix"
}

variable "new_config_dir" {
  type    = string
  default = "/etc/postfix"
}

variable "new_server" {
  type        = string
  description = "The new server as an smtp(8) nexthop: \"[192.0.2.20]\", \"[192.0.2.20]:2525\" or \"mx.new.example\" (MX lookup: only once DNS points there)."
}

variable "aliases" {
  type        = map(string)
  default     = {}
  description = "The domain's aliases: local part (or full address) to comma-separated targets, e.g. { postmaster = \"alice@example.com\" }."
}

locals {
  old_dir = "${var.old_config_dir}/migration"
  new_dir = "${var.new_config_dir}/migration"
  alias_entries = [
    for k, v in var.aliases : { key = can(regex("@", k)) ? k : "${k}@${var.domain}", value = v }
  ]
}

resource "postfix_map" "aliases_new" {
  count = length(var.aliases) == 0 ? 0 : 1

  host       = var.new
  config_dir = var.new_config_dir
  path       = "${local.new_dir}/${var.domain}-aliases"
  type       = "hash"
  entries    = local.alias_entries
  parameter  = "virtual_alias_maps"
}

resource "postfix_map" "aliases_old" {
  count = length(var.aliases) == 0 ? 0 : 1

  host       = var.old
  config_dir = var.old_config_dir
  path       = "${local.old_dir}/${var.domain}-aliases"
  type       = "hash"
  entries    = local.alias_entries
  parameter  = "virtual_alias_maps"
  depends_on = [postfix_map.aliases_new]
}

resource "postfix_map" "relay" {
  host       = var.old
  config_dir = var.old_config_dir
  path       = "${local.old_dir}/${var.domain}-relay"
  type       = "hash"
  entries    = [{ key = var.domain, value = "smtp:${var.new_server}" }]
  parameter  = "transport_maps"
  position   = "first"
  depends_on = [postfix_map.aliases_new, postfix_map.aliases_old]
}

output "relay_table" {
  value = postfix_map.relay.path
}
