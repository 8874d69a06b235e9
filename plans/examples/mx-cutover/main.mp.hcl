# mx-cutover: point each domain's MX, client names (imap., smtp.) and SPF at
# the new server, with the safe TTL transition done for you.
#
#   export MAILPLAN_VAR_tsig_secret=...          # never on the command line
#   mailplan plan  -var dns_address=ns1.example.net:53
#   mailplan apply -var dns_address=ns1.example.net:53
#
# The first apply lowers the TTLs and, as the old TTL (a day, say) is longer
# than -max-wait, records the wait in the state and exits 0 with the time to
# run it again. That apply switches the records and waits the short TTL out;
# a last apply, after transition_hold, raises the TTLs again. `mailplan
# plan` shows each pending step. With mail_copy set, the apply that switches
# the MX then copies the mail that still reached the old server to the new
# one, once no cache can hold the old MX any more. See README.md.

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
  description = "Per zone: the new MX host, the new server's IPv4 address, and the SPF record to publish."
  type = map(object({
    new_mx = string
    new_ip = string
    spf    = string
  }))
  default = {
    "example.com." = { new_mx = "mail.new.example.com.", new_ip = "192.0.2.20", spf = "v=spf1 mx -all" }
    "example.org." = { new_mx = "mail.new.example.org.", new_ip = "192.0.2.20", spf = "v=spf1 mx -all" }
  }
}

variable "transition_ttl" {
  type    = number
  default = 300
}

variable "transition_hold" {
  type    = string
  default = "1h"
}

dns_server "primary" {
  address        = var.dns_address
  tsig_key_name  = var.tsig_key_name
  tsig_algorithm = var.tsig_algorithm
  tsig_secret    = var.tsig_secret
}

module "cutover" {
  source   = "../../modules/mx-cutover"
  for_each = var.domains

  server           = dns_server.primary
  zone             = each.key
  new_mx           = each.value.new_mx
  client_addresses = { imap = [each.value.new_ip], smtp = [each.value.new_ip] }
  spf              = each.value.spf
  transition_ttl   = var.transition_ttl
  transition_hold  = var.transition_hold
}

variable "mail_copy" {
  description = "Copy the mail that still reached the old server, after the switch: { old_address, new_address, ssh_user, identity_file, known_hosts, old_maildir_root, new_maildir_root, owner, group }. null (the default) moves DNS only."
  default     = null
}

# Reached only with mail_copy set (transport "local" is a placeholder that is
# never used otherwise).
host "old" {
  transport     = var.mail_copy == null ? "local" : "ssh"
  address       = try(var.mail_copy.old_address, null)
  port          = try(var.mail_copy.old_port, 22)
  user          = try(var.mail_copy.ssh_user, "root")
  identity_file = try(var.mail_copy.identity_file, "")
  known_hosts   = try(var.mail_copy.known_hosts, "~/.ssh/known_hosts")
}

host "new" {
  transport     = var.mail_copy == null ? "local" : "ssh"
  address       = try(var.mail_copy.new_address, null)
  port          = try(var.mail_copy.new_port, 22)
  user          = try(var.mail_copy.ssh_user, "root")
  identity_file = try(var.mail_copy.identity_file, "")
  known_hosts   = try(var.mail_copy.known_hosts, "~/.ssh/known_hosts")
}

# Then copy what still reached the old server: only once the MX switch and
# its wait are over (wait_after_change), so nothing arrives there after.
module "mail_after_cutover" {
  source     = "../../modules/mailbox-migration"
  count      = var.mail_copy == null ? 0 : 1
  depends_on = [module.cutover]

  pass     = "first"
  from     = host.old
  to       = host.new
  from_dir = var.mail_copy.old_maildir_root
  to_dir   = var.mail_copy.new_maildir_root
  domains  = [for z in keys(var.domains) : trimsuffix(z, ".")]
  owner    = try(var.mail_copy.owner, "vmail")
  group    = try(var.mail_copy.group, "vmail")
}
