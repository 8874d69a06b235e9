# postfix-shadow-copy: the old Postfix sends a blind copy of every message for
# one domain to the new server, so that filters, aliases and mailboxes there
# can be tested with real traffic before anything changes for users.
#
#   recipient_bcc_maps (pcre)  user@DOMAIN           -> user@DOMAIN.migration
#   transport_maps     (hash)  DOMAIN.migration      -> smtp:NEW_SERVER
#   smtp_generic_maps  (pcre)  user@DOMAIN.migration -> user@DOMAIN  (on the way out)
#
# With new_host given, the copies keep their .migration address to the new
# server instead, and a table there maps it back:
#
#   virtual_alias_maps (pcre, new server)  user@DOMAIN.migration -> user@DOMAIN
#
# so that each copy the new server delivers carries
# X-Original-To: user@DOMAIN.migration. A later mailbox_copy can then tell
# the shadow's copies apart and replace them with the old server's messages,
# flags and IMAP UIDs (output mailbox_copy_shadow gives the settings).
#
# Each table gets its own file per domain, and each parameter keeps whatever
# else it listed, so the module can be used for many domains at once.
#
# Postfix adds the BCC recipient in cleanup(8), after smtpd's checks, and
# never reports delivery errors for it to the sender: a copy the new server
# refuses (say, for a mailbox it does not have yet) is dropped silently. List
# the mailboxes in `mailboxes` to copy only those: before the copies are
# switched on, an smtp_probe asks the new server for each of them (RCPT TO
# only, nothing is sent), and a mailbox it refuses fails the apply, which
# then changes nothing. The probes go from the machine running mailplan to
# new_server: it must be reachable from there too.

variable "domain" {
  type        = string
  description = "The domain whose mail is copied, e.g. example.com."
  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$", var.domain))
    error_message = "domain must be a lower-case DNS name such as example.com."
  }
}

variable "new_server" {
  type        = string
  description = "Where the copies go, as an smtp(8) nexthop: \"[192.0.2.20]\", \"[192.0.2.20]:2525\" or \"mx.new.example\"."
}

variable "host" {
  description = "The old server: a host block, e.g. host.old."
}

variable "config_dir" {
  type        = string
  default     = "/etc/postfix"
  description = "The old server's Postfix instance (postconf -c)."
}

variable "table_dir" {
  type        = string
  default     = ""
  description = "Where the tables go; default CONFIG_DIR/migration (created when missing)."
}

variable "mailboxes" {
  type        = list(string)
  default     = []
  description = "Local parts to copy; empty copies every address of the domain."
}

variable "new_host" {
  default     = null
  description = "The new server as a host block, to mark the copies (see above); null: the old server rewrites the address back and the copies are not marked."
}

variable "new_config_dir" {
  type        = string
  default     = "/etc/postfix"
  description = "The new server's Postfix instance, with new_host."
}

variable "check_mailboxes" {
  type        = bool
  default     = true
  description = "Probe the new server for each of mailboxes before the copies start (smtp_probe, RCPT TO only)."
}

locals {
  # The nexthop as an SMTP server for the probes: "[192.0.2.20]:2525" is
  # 192.0.2.20:2525.
  probe_server = replace(replace(var.new_server, "[", ""), "]", "")
  shadow       = "${var.domain}.migration"
  dir          = var.table_dir != "" ? var.table_dir : "${var.config_dir}/migration"
  re_domain    = regex_escape(var.domain)
  re_shadow    = regex_escape(local.shadow)

  bcc_entries = length(var.mailboxes) == 0 ? [
    { key = "/^(.+)@${local.re_domain}$/", value = "$${1}@${local.shadow}" },
    ] : [
    for m in var.mailboxes : { key = "/^${regex_escape(m)}@${local.re_domain}$/", value = "${m}@${local.shadow}" }
  ]
}

# Where copies go: the pseudo-domain is routed to the new server.
resource "postfix_map" "transport" {
  host       = var.host
  config_dir = var.config_dir
  path       = "${local.dir}/${var.domain}-transport"
  type       = "hash"
  entries    = [{ key = local.shadow, value = "smtp:${var.new_server}" }]
  parameter  = "transport_maps"
}

# On the way out, the pseudo-domain becomes the real one again, so that the
# new server delivers to user@DOMAIN.
resource "postfix_map" "generic" {
  count = var.new_host == null ? 1 : 0

  host       = var.host
  config_dir = var.config_dir
  path       = "${local.dir}/${var.domain}-generic"
  type       = "pcre"
  entries    = [{ key = "/^(.+)@${local.re_shadow}$/", value = "$${1}@${var.domain}" }]
  parameter  = "smtp_generic_maps"
}

# The new server accepts mail for every mailbox copied to it.
resource "smtp_probe" "mailbox_exists" {
  for_each = var.check_mailboxes ? toset(var.mailboxes) : toset([])

  recipient = "${each.key}@${var.domain}"
  server    = local.probe_server
  deliver   = false
  timeout   = "1m"
}

# With new_host: the new server takes the pseudo-domain as a virtual alias
# domain (the first entry answers the domain's own lookup) and delivers
# user@DOMAIN.migration to user@DOMAIN, noting the address it came to in
# X-Original-To.
resource "postfix_map" "unshadow" {
  count = var.new_host == null ? 0 : 1

  host       = var.new_host
  config_dir = var.new_config_dir
  path       = "${var.new_config_dir}/migration/${var.domain}-unshadow"
  type       = "pcre"
  entries = [
    { key = "/^${local.re_shadow}$/", value = "OK" },
    { key = "/^(.+)@${local.re_shadow}$/", value = "$${1}@${var.domain}" },
  ]
  parameter = "virtual_alias_maps"
}

# Last, the copies themselves: only once both tables above are in place.
resource "postfix_map" "bcc" {
  host       = var.host
  config_dir = var.config_dir
  path       = "${local.dir}/${var.domain}-recipient_bcc"
  type       = "pcre"
  entries    = local.bcc_entries
  parameter  = "recipient_bcc_maps"
  depends_on = [postfix_map.transport, postfix_map.generic, postfix_map.unshadow, smtp_probe.mailbox_exists]
}

output "shadow_domain" {
  value       = local.shadow
  description = "The pseudo-domain copies are addressed to on the old server."
}

output "mailbox_copy_shadow" {
  value       = var.new_host == null ? null : { header = "X-Original-To", match = "@${local.re_shadow}$" }
  description = "With new_host: the shadow_header and shadow_match a mailbox_copy to the new server needs to replace the shadow's copies with the old server's messages."
}

output "tables" {
  value = concat([postfix_map.transport.path], postfix_map.generic[*].path, postfix_map.unshadow[*].path, [postfix_map.bcc.path])
}

# The generic table had no count before new_host came: states made then
# know it as postfix_map.generic.
moved {
  from = postfix_map.generic
  to   = postfix_map.generic[0]
}
