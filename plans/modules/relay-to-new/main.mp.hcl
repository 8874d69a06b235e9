# relay-to-new: the old Postfix stops delivering one domain itself and
# relays every message for it to the new server, so that mail which still
# reaches the old server (senders with the old MX cached, the old server's
# own queue, backup MXs) ends up where the mailboxes now are.
#
#   old server: transport_maps  DOMAIN -> smtp:NEW_SERVER
#
# transport_maps takes precedence over virtual_transport (and
# local_transport), so the domain stays in virtual_mailbox_domains (or
# mydestination) on the old server: its smtpd still accepts exactly the
# recipients it accepted before, and only the delivery changes.
#
# Apply it right after the MX points at the new server, not before: until
# then the old server keeps delivering locally, so its users keep seeing
# their new mail in the old IMAP through a long DNS wait, and what it
# delivers meanwhile is carried over by the final mailbox copy.
#
# Before the old server relays anything, a check runs on the new server
# (by default `postfix -c NEW_CONFIG_DIR status`): if the new Postfix is
# not running, the relay is not set up and the apply fails and rolls back.
# Rollback removes the entry, reloads Postfix and flushes the queue
# (postqueue -f): what the old server deferred for the new one meanwhile is
# delivered locally at once.

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
  description = "The new server: a host block, e.g. host.new (where the check runs)."
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
  description = "The new server as an smtp(8) nexthop: \"[192.0.2.20]\", \"[192.0.2.20]:2525\" or \"mx.new.example\"."
}

variable "new_check" {
  type        = list(string)
  default     = null
  description = "The command, run on the new server, whose success means it takes mail; default postfix -c NEW_CONFIG_DIR status."
}

locals {
  check = var.new_check != null ? var.new_check : ["postfix", "-c", var.new_config_dir, "status"]
}

resource "postfix_map" "relay" {
  host       = var.old
  config_dir = var.old_config_dir
  path       = "${var.old_config_dir}/migration/${var.domain}-relay"
  type       = "hash"
  entries    = [{ key = var.domain, value = "smtp:${var.new_server}" }]
  parameter  = "transport_maps"
  position   = "first"

  hook "before_apply" {
    host    = var.new
    command = local.check
  }

  # Once the relay is gone (rolled back, or destroyed to go back to the
  # old server), what the old server deferred for the new one is delivered
  # locally at once, not at the next retry (up to an hour). The check on
  # the new server above runs only when the relay is created or changed:
  # going back never depends on the new server answering.
  hook "on_rollback" {
    host    = var.old
    command = ["postqueue", "-c", var.old_config_dir, "-f"]
  }

  hook "after_destroy" {
    host    = var.old
    command = ["postqueue", "-c", var.old_config_dir, "-f"]
  }
}

output "relay_table" {
  value = postfix_map.relay.path
}
