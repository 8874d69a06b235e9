# mx-cutover: move one domain's mail to the new server in DNS, the careful
# way, with every wait done for you and never forgotten half way:
#
#   1. lower the TTL of the MX (and of the client names and SPF) to
#      transition_ttl, records unchanged, and wait the old TTL out;
#   2. switch them to the new server, still at the low TTL;
#   3. wait transition_ttl again (wait_after_change), so that whatever
#      depends on the cutover — the final mailbox sync, stopping the old
#      Postfix — starts when no cache can still point at the old server;
#   4. keep the low TTL for transition_hold, so a rollback takes effect
#      quickly; a later `mailplan apply` raises it back to the final TTL.
#
# Each record is updated with one RFC 2136 UPDATE that replaces its RRset
# atomically, guarded by a prerequisite that it is still what plan read.

variable "server" {
  description = "The zone's primary: a dns_server block, e.g. dns_server.primary."
}

variable "zone" {
  type        = string
  description = "The zone, e.g. example.com."
}

variable "new_mx" {
  type        = string
  description = "The new server's MX host name, e.g. mail.new.example.com. (it must have A/AAAA records, never a CNAME)."
}

variable "mx_preference" {
  type    = number
  default = 10
}

variable "mx_ttl" {
  type        = number
  default     = 86400
  description = "The MX TTL once the move is over."
}

variable "client_addresses" {
  type        = map(list(string))
  default     = {}
  description = "Client-access names (imap, smtp, …) and the new server's IPv4 addresses for them."
}

variable "client_ttl" {
  type    = number
  default = 3600
}

variable "spf" {
  type        = string
  default     = ""
  description = "The domain's SPF record after the move (it must allow the new server); empty leaves SPF alone."
}

variable "apex_txt" {
  type        = list(string)
  default     = []
  description = "The zone apex's other TXT records (site verifications, DMARC is elsewhere): the TXT RRset is managed as a whole, so any TXT record at the apex not listed here with the SPF record is removed (the plan shows it)."
}

variable "transition_ttl" {
  type    = number
  default = 300
}

variable "transition_hold" {
  type    = string
  default = "1h"
}

resource "mx_record" "mx" {
  server            = var.server
  zone              = var.zone
  ttl               = var.mx_ttl
  exchanges         = [{ preference = var.mx_preference, host = var.new_mx }]
  transition_ttl    = var.transition_ttl
  transition_hold   = var.transition_hold
  wait_after_change = true
}

resource "dns_record" "client" {
  for_each = var.client_addresses

  server          = var.server
  zone            = var.zone
  name            = each.key
  type            = "A"
  ttl             = var.client_ttl
  records         = each.value
  transition_ttl  = var.transition_ttl
  transition_hold = var.transition_hold
}

resource "dns_record" "spf" {
  count = var.spf == "" ? 0 : 1

  server          = var.server
  zone            = var.zone
  type            = "TXT"
  ttl             = var.client_ttl
  records         = concat([jsonencode(var.spf)], [for t in var.apex_txt : jsonencode(t)])
  transition_ttl  = var.transition_ttl
  transition_hold = var.transition_hold
}

output "mx" {
  value = mx_record.mx.exchanges
}
