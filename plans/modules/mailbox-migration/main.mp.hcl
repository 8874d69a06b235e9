# mailbox-migration: copy the domains' Maildirs from the old server to the
# new one in two passes, and move IMAP with the final one.
#
# Call it twice, as plans/examples/full-migration does:
#
#   pass = "first"  copies everything while both servers run. It takes as
#                   long as the mail takes to copy, and users notice
#                   nothing.
#   pass = "final"  stops IMAP on the old server (so no flag, move or
#                   delete made there is left behind), copies what
#                   changed since the first pass (seconds), then starts
#                   IMAP on the new server. Give this call depends_on on
#                   whatever must come first: the old server no longer
#                   delivering the domains (its queue drained).
#
# mailbox_copy never overwrites at the destination and deletes there only
# its own copies of messages deleted at the source (the final pass), so
# mail the new server delivered meanwhile is kept (a shadow copy of a
# message the old server also has is not copied twice), and it copies
# the Dovecot uidlist, so IMAP clients keep their UIDs and do not
# download every message again. IMAP on the new server starts only once
# the final pass is complete: no user ever sees a half-copied mailbox
# there.

variable "pass" {
  type = string
  validation {
    condition     = contains(["first", "final"], var.pass)
    error_message = "pass must be \"first\" or \"final\"."
  }
}

variable "from" {
  description = "The old server: a host block."
}

variable "to" {
  description = "The new server: a host block."
}

variable "from_dir" {
  type        = string
  description = "The old server's Maildir root (virtual_mailbox_base), e.g. /var/vmail."
}

variable "to_dir" {
  type        = string
  description = "The new server's Maildir root."
}

variable "domains" {
  type        = list(string)
  description = "The domains whose Maildirs (FROM_DIR/DOMAIN/...) are copied."
}

variable "owner" {
  type    = string
  default = "vmail"
}

variable "group" {
  type    = string
  default = "vmail"
}

variable "verify" {
  type    = string
  default = "size"
}

variable "old_imap" {
  description = "The old server's IMAP service for pass \"final\": { name = \"dovecot\" }, plus manager, start, stop and status for manager = \"command\"; null leaves it alone."
  default     = { name = "dovecot" }
}

variable "new_imap" {
  description = "The new server's IMAP service, started after the final pass; null leaves it alone."
  default     = { name = "dovecot" }
}

locals {
  final = var.pass == "final"
}

# Before the final pass, nobody may change a mailbox on the old server.
resource "service_state" "old_imap" {
  count = local.final && var.old_imap != null ? 1 : 0

  host           = var.from
  service        = var.old_imap.name
  state          = "stopped"
  manager        = try(var.old_imap.manager, null)
  start_command  = try(var.old_imap.start, null)
  stop_command   = try(var.old_imap.stop, null)
  status_command = try(var.old_imap.status, null)
}

resource "mailbox_copy" "mail" {
  from        = var.from
  to          = var.to
  source      = var.from_dir
  destination = var.to_dir
  include     = [for d in var.domains : "${d}/**"]
  owner       = var.owner
  group       = var.group
  verify      = var.verify
  # Each pass copies in the apply that creates it, never again: after the
  # cutover the new server's mailboxes are their users', and a later apply
  # (to raise the TTLs, say) must not bring back what they deleted there.
  once = true
  # The final pass carries over what users deleted, re-flagged or moved on
  # the old server since the first pass, for the messages the first pass
  # copied and nobody changed on the new server (the first pass's copies
  # are recorded at the destination, so no reference to it is needed).
  mirror     = local.final
  depends_on = [service_state.old_imap]
}

resource "service_state" "new_imap" {
  count = local.final && var.new_imap != null ? 1 : 0

  host           = var.to
  service        = var.new_imap.name
  state          = "running"
  manager        = try(var.new_imap.manager, null)
  start_command  = try(var.new_imap.start, null)
  stop_command   = try(var.new_imap.stop, null)
  status_command = try(var.new_imap.status, null)
  depends_on     = [mailbox_copy.mail]
}
