# seed-runbook-1: the move the way the first runbook wrote it, step for step:
#
#   1. shadow copy    the old Postfix sends a copy of each domain's mail to
#                     the new server, so that the new server can be checked
#                     with real traffic            (modules/postfix-shadow-copy)
#   2. stop           Postfix and Dovecot on both servers   (service_window)
#   3. copy           every Maildir, old to new, in one pass (mailbox_copy);
#                     the shadow's copies already on the new server (marked
#                     by their .migration address) are replaced by the old
#                     server's messages, with their flags and IMAP UIDs
#   4. start          Postfix and Dovecot on both servers again: each window
#                     puts its service back as it found it, and the new
#                     Dovecot, never started before, is started
#                                                           (service_state)
#   5. switch DNS     MX, client names and SPF to the new server
#                                                           (modules/mx-cutover)
#   then, checked:    the resolvers the world asks answer the new MX
#                     (dns_check), and mail for one address per domain, sent
#                     as the world sends it, lands on the new server
#                                                           (smtp_probe)
#
# Two applies, as the runbook has two days:
#
#   mailplan apply -var-file=site.mpvars.hcl                 # step 1
#   # ... check the new server with the shadowed mail ...
#   mailplan apply -var-file=site.mpvars.hcl -var cutover=true   # steps 2-5
#
# Steps 2 to 4 are one maintenance window: no mail is accepted and no
# mailbox changes on either server while the mail is copied (senders
# retry, as they do for any short outage). A failure anywhere in the
# second apply rolls it all back: DNS, the copy, and every service as it
# was. `mailplan graph` shows the order.

variable "cutover" {
  type        = bool
  default     = false
  description = "false: step 1 only (the shadow copy). true: steps 2 to 5."
}

variable "new_postfix" {
  description = "The new server's Postfix service, stopped during the copy: { name = \"postfix\" } (systemd or sysv, detected), or with manager = \"command\" and start, stop, status argv lists."
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
  default     = null
  description = "Unused by this runbook (it keeps the old server running); accepted so that the full migration's variable files work unchanged."
}

variable "drain_timeout" {
  type        = string
  default     = "2h"
  description = "Unused by this runbook; accepted so that the full migration's variable files work unchanged."
}

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
  # Each service the window holds, on its host.
  services = {
    old_postfix = { host = host.old, svc = var.old_postfix }
    old_imap    = { host = host.old, svc = var.old_imap }
    new_postfix = { host = host.new, svc = var.new_postfix }
    new_imap    = { host = host.new, svc = var.new_imap }
  }
  cutover = var.cutover ? local.services : {}
}

# 1. The shadow copy, one per domain, from the first apply on.
module "shadow" {
  source   = "../../modules/postfix-shadow-copy"
  for_each = var.domains

  domain     = each.key
  new_server = var.new_server
  host       = host.old
  config_dir = var.old_config_dir
  # The copies are marked on the new server (X-Original-To:
  # user@DOMAIN.migration), so that step 3 replaces them with the old
  # server's messages, flags and IMAP UIDs.
  new_host       = host.new
  new_config_dir = var.new_config_dir
}

# 2. and 4. Postfix and Dovecot on both servers, stopped while the
#    mailboxes are copied and put back as they were found afterwards.
resource "service_window" "stopped" {
  for_each = local.cutover
  during   = [mailbox_copy.all]

  host           = each.value.host
  service        = each.value.svc.name
  state          = "stopped"
  manager        = try(each.value.svc.manager, null)
  start_command  = try(each.value.svc.start, null)
  stop_command   = try(each.value.svc.stop, null)
  status_command = try(each.value.svc.status, null)
}

# 3. Every Maildir of the domains, in one pass.
resource "mailbox_copy" "all" {
  count      = var.cutover ? 1 : 0
  depends_on = [module.shadow]

  from        = host.old
  to          = host.new
  source      = var.old_maildir_root
  destination = var.new_maildir_root
  include     = [for d in keys(var.domains) : "${d}/**"]
  owner       = var.mail_owner
  group       = var.mail_group
  once        = true

  # What the shadow delivered is replaced by the old server's copy.
  shadow_header = "X-Original-To"
  shadow_match  = "@(${join("|", [for d in keys(var.domains) : regex_escape(d)])})\\.migration$"
}

# 4. The new Dovecot serves the copied mail from now on (the window put
#    it back stopped, as a new server's was).
resource "service_state" "new_imap" {
  count      = var.cutover ? 1 : 0
  depends_on = [service_window.stopped]

  host           = host.new
  service        = var.new_imap.name
  state          = "running"
  manager        = try(var.new_imap.manager, null)
  start_command  = try(var.new_imap.start, null)
  stop_command   = try(var.new_imap.stop, null)
  status_command = try(var.new_imap.status, null)
}

# 5. DNS, once the new server has the mail and serves it.
module "dns" {
  source     = "../../modules/mx-cutover"
  for_each   = var.cutover ? var.domains : {}
  depends_on = [service_state.new_imap]

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

# Checked: the world sees the move.
resource "dns_check" "mx_visible" {
  for_each   = var.cutover ? var.domains : {}
  depends_on = [module.dns]

  name      = "${each.key}."
  type      = "MX"
  expect    = ["10 ${each.value.new_mx}"]
  resolvers = var.check_resolvers
  recursion = var.check_recursion
  timeout   = var.check_timeout
}

resource "smtp_probe" "lands_on_new" {
  for_each   = var.cutover ? var.probes : {}
  depends_on = [dns_check.mx_visible]

  recipient  = "${each.value}@${each.key}"
  dns_server = dns_server.primary
  port       = var.mx_port
  host       = host.new
  maildir    = "${var.new_maildir_root}/${each.key}/${each.value}"
  timeout    = "5m"
}

output "mx" {
  value = { for d, m in module.dns : d => m.mx }
}
