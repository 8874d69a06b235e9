# full-migration: move mail domains from an old server to a new one, the
# whole cutover in one plan, with no message lost:
#
#   1. aliases   the domain's aliases on the new server (and the same on
#                the old one), before any mail goes there (postfix_map)
#   2. mailboxes first copy of every Maildir, while both servers run
#                                                       (modules/mailbox-migration)
#   3. DNS       MX, client names (imap., smtp.) and SPF to the new server,
#                TTL lowered first and waited out       (modules/mx-cutover)
#   4. relay     once the MX points at the new server, the old Postfix
#                relays what still reaches it there, after checking that
#                the new Postfix runs                   (modules/relay-to-new)
#   5. gate      the old queue holds nothing for the domain any more
#                                                       (postfix_queue)
#   6. mailboxes old IMAP stopped, final incremental copy (what the old
#                server delivered until step 4 included), new IMAP started
#                                                       (modules/mailbox-migration)
#   7. checks    the resolvers the world asks answer the new MX (dns_check),
#                and mail for one address per domain, sent as the world
#                sends it, lands in its Maildir on the new server (smtp_probe)
#   8. old down  once the old server's queue is empty, its Postfix stops
#                                                       (postfix_queue, service_state)
#   9. power off the old machine is shut down, after one more question
#                (command, confirm = true: -auto-approve does not answer
#                it, -force does)
#
#   export MAILPLAN_VAR_tsig_secret=...     # never on the command line
#   mailplan plan  -var-file=site.mpvars.hcl -out=migration.plan
#   mailplan apply migration.plan
#
# When the old MX TTL is longer than -max-wait (a day, typically), the
# first apply does steps 1 and 2 and lowers the TTLs, records the wait and
# exits 0 with the time to run `mailplan apply` again. Until then nothing
# changes for users: the old server still delivers and serves its mail. A failure anywhere
# rolls everything back, in reverse order: MX and names back to the old
# server, the relay removed (mail it deferred is delivered locally),
# copied messages removed, IMAP back. See README.md beside this file.

variable "old_address" {
  type        = string
  description = "The old mail server, reached over SSH."
}

variable "old_port" {
  type    = number
  default = 22
}

variable "new_address" {
  type        = string
  description = "The new mail server, reached over SSH."
}

variable "new_port" {
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
  description = "The new server as the old one's SMTP nexthop, e.g. \"[198.51.100.20]\"."
}

variable "dns_address" {
  type        = string
  description = "The zones' primary, host:port."
}

variable "tsig_key_name" {
  type    = string
  default = "mailplan."
}

variable "tsig_algorithm" {
  type    = string
  default = "hmac-sha256"
}

variable "tsig_secret" {
  type        = string
  sensitive   = true
  description = "Base64 TSIG secret allowed to update the zones (MAILPLAN_VAR_tsig_secret)."
}

variable "domains" {
  description = "Per domain: the new MX host, the new server's IPv4 address, the client names to point at it, the SPF record, and the domain's aliases."
  type = map(object({
    new_mx       = string
    new_ip       = string
    client_names = list(string)
    spf          = string
    aliases      = map(string)
  }))
  default = {
    "example.com" = {
      new_mx       = "mail.new.example.com."
      new_ip       = "198.51.100.20"
      client_names = ["imap", "smtp"]
      spf          = "v=spf1 mx -all"
      aliases      = { postmaster = "alice@example.com", abuse = "alice@example.com" }
    }
  }
}

variable "old_maildir_root" {
  type    = string
  default = "/var/vmail"
}

variable "new_maildir_root" {
  type    = string
  default = "/var/vmail"
}

variable "mail_owner" {
  type    = string
  default = "vmail"
}

variable "mail_group" {
  type    = string
  default = "vmail"
}

variable "old_imap" {
  description = "The old server's IMAP service: { name = \"dovecot\" } (systemd or sysv, detected), or with manager = \"command\" and start, stop, status argv lists."
  default     = { name = "dovecot" }
}

variable "new_imap" {
  description = "The new server's IMAP service, started once the mail is there."
  default     = { name = "dovecot" }
}

variable "old_postfix" {
  description = "The old server's Postfix service, stopped last."
  default     = { name = "postfix" }
}

variable "check_resolvers" {
  type        = list(string)
  default     = ["9.9.9.9", "1.1.1.1", "8.8.8.8"]
  description = "Resolvers that must answer the new MX before the old server stops (dns_check): public ones, plus those of your biggest senders. Addresses, with an optional :port."
}

variable "check_recursion" {
  type        = bool
  default     = true
  description = "Ask check_resolvers with recursion desired (resolvers); false to ask authoritative servers directly."
}

variable "check_timeout" {
  type        = string
  default     = "2h"
  description = "How long the old server's shutdown waits for check_resolvers to answer the new MX."
}

variable "probes" {
  type        = map(string)
  default     = {}
  description = "Per domain, a local part whose mail lands in NEW_MAILDIR_ROOT/DOMAIN/LOCAL/ on the new server: after the cutover a probe is sent to it through the domain's MX (looked up at dns_address) and must land there. Empty: no probe."
}

variable "mx_port" {
  type        = number
  default     = 25
  description = "The SMTP port the MX hosts listen on, for the probes."
}

variable "old_shutdown" {
  description = "The last step: { command = [...], undo = [...] } run on the old server once its Postfix has stopped, after one more question (confirm); null leaves the machine running. undo cancels it on rollback or destroy."
  default = {
    command = ["shutdown", "-h", "+10", "mail moved to the new server"]
    undo    = ["shutdown", "-c"]
  }
}

variable "mx_ttl" {
  type    = number
  default = 86400
}

variable "client_ttl" {
  type    = number
  default = 3600
}

variable "transition_ttl" {
  type    = number
  default = 300
}

variable "transition_hold" {
  type    = string
  default = "1h"
}

variable "drain_timeout" {
  type        = string
  default     = "2h"
  description = "How long to wait for the old queue to drain before giving up (and rolling back)."
}

host "old" {
  address       = var.old_address
  port          = var.old_port
  user          = var.ssh_user
  identity_file = var.identity_file
  known_hosts   = var.known_hosts
}

host "new" {
  address       = var.new_address
  port          = var.new_port
  user          = var.ssh_user
  identity_file = var.identity_file
  known_hosts   = var.known_hosts
}

dns_server "primary" {
  address        = var.dns_address
  tsig_key_name  = var.tsig_key_name
  tsig_algorithm = var.tsig_algorithm
  tsig_secret    = var.tsig_secret
}

locals {
  # The domains that have aliases, and their entries as full addresses.
  aliases = {
    for d, v in var.domains : d => [
      for k, t in v.aliases : { key = can(regex("@", k)) ? k : "${k}@${d}", value = t }
    ] if length(v.aliases) > 0
  }
}

# 1. The domains' aliases: on the new server before any mail goes there,
#    and the same on the old one, so both agree during the move.
resource "postfix_map" "aliases_new" {
  for_each = local.aliases

  host       = host.new
  config_dir = var.new_config_dir
  path       = "${var.new_config_dir}/migration/${each.key}-aliases"
  type       = "hash"
  entries    = each.value
  parameter  = "virtual_alias_maps"
}

resource "postfix_map" "aliases_old" {
  for_each   = local.aliases
  depends_on = [postfix_map.aliases_new]

  host       = host.old
  config_dir = var.old_config_dir
  path       = "${var.old_config_dir}/migration/${each.key}-aliases"
  type       = "hash"
  entries    = each.value
  parameter  = "virtual_alias_maps"
}

# 2. A first copy of the mailboxes, while everything still runs.
module "first_pass" {
  source = "../../modules/mailbox-migration"

  pass     = "first"
  from     = host.old
  to       = host.new
  from_dir = var.old_maildir_root
  to_dir   = var.new_maildir_root
  domains  = keys(var.domains)
  owner    = var.mail_owner
  group    = var.mail_group
}

# 3. DNS: once the new server knows the aliases.
module "dns" {
  source     = "../../modules/mx-cutover"
  for_each   = var.domains
  depends_on = [postfix_map.aliases_new, postfix_map.aliases_old]

  server           = dns_server.primary
  zone             = "${each.key}."
  new_mx           = each.value.new_mx
  mx_ttl           = var.mx_ttl
  client_addresses = { for n in each.value.client_names : n => [each.value.new_ip] }
  client_ttl       = var.client_ttl
  spf              = each.value.spf
  transition_ttl   = var.transition_ttl
  transition_hold  = var.transition_hold
}

# 4. The old server relays each domain to the new one from now on.
module "relay" {
  source     = "../../modules/relay-to-new"
  for_each   = var.domains
  depends_on = [module.dns]

  domain         = each.key
  old            = host.old
  new            = host.new
  old_config_dir = var.old_config_dir
  new_config_dir = var.new_config_dir
  new_server     = var.new_server
}

# 5. Nothing for the domain is left in the old queue: what it still held
#    has gone to the new server.
resource "postfix_queue" "domain_drained" {
  for_each   = var.domains
  depends_on = [module.relay]

  host       = host.old
  config_dir = var.old_config_dir
  recipients = "(?i)@${regex_escape(each.key)}$"
  timeout    = var.drain_timeout
}

# 6. IMAP moves with the final copy.
module "final_pass" {
  source     = "../../modules/mailbox-migration"
  depends_on = [postfix_queue.domain_drained, module.first_pass]

  pass     = "final"
  from     = host.old
  to       = host.new
  from_dir = var.old_maildir_root
  to_dir   = var.new_maildir_root
  domains  = keys(var.domains)
  owner    = var.mail_owner
  group    = var.mail_group
  old_imap = var.old_imap
  new_imap = var.new_imap
}

# 7. The world sees the move: the resolvers senders ask answer the new MX,
#    and mail for one address of each domain, sent to the domain's MX as
#    any sender would, lands in its Maildir on the new server.
resource "dns_check" "mx_visible" {
  for_each   = var.domains
  depends_on = [module.dns]

  name      = "${each.key}."
  type      = "MX"
  expect    = ["10 ${each.value.new_mx}"]
  resolvers = var.check_resolvers
  recursion = var.check_recursion
  timeout   = var.check_timeout
}

resource "smtp_probe" "lands_on_new" {
  for_each   = var.probes
  depends_on = [module.final_pass, dns_check.mx_visible]

  recipient  = "${each.value}@${each.key}"
  dns_server = dns_server.primary
  port       = var.mx_port
  host       = host.new
  maildir    = "${var.new_maildir_root}/${each.key}/${each.value}"
  timeout    = "5m"
}

# 8. The old server goes last, once nothing at all is queued there.
resource "postfix_queue" "old_empty" {
  depends_on = [module.final_pass, dns_check.mx_visible, smtp_probe.lands_on_new]

  host       = host.old
  config_dir = var.old_config_dir
  timeout    = var.drain_timeout
}

resource "service_state" "old_postfix" {
  depends_on = [postfix_queue.old_empty]

  host           = host.old
  service        = var.old_postfix.name
  state          = "stopped"
  manager        = try(var.old_postfix.manager, null)
  start_command  = try(var.old_postfix.start, null)
  stop_command   = try(var.old_postfix.stop, null)
  status_command = try(var.old_postfix.status, null)
}

# 9. The old machine is shut down, once more asked for (-auto-approve does
#    not answer the question; -force does).
resource "command" "old_shutdown" {
  count      = var.old_shutdown == null ? 0 : 1
  depends_on = [service_state.old_postfix]

  host    = host.old
  command = var.old_shutdown.command
  undo    = try(var.old_shutdown.undo, null)
  confirm = try(var.old_shutdown.confirm, true)
}

output "mx" {
  value = { for d, m in module.dns : d => m.mx }
}
