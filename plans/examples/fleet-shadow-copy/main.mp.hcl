# fleet-shadow-copy: the shadow copy of plans/examples/shadow-copy, one
# domain per workspace, the state in PostgreSQL. The workspace's name is
# the domain, so that one CI job per domain can plan and apply it beside
# the others, each with a state and a lock of its own:
#
#   export MAILPLAN_PG_CONN_STR='host=db.example.net dbname=mailplan user=mailplan_ci'
#   mailplan init                                 # once per checkout
#   mailplan workspace select -or-create example.com
#   mailplan apply -var-file=fleet.mpvars.hcl
#
# The default workspace is no domain: the module's validation refuses it.
# See docs/fleets.md for the CI jobs.

mailplan {
  backend "pg" {
    # conn_str comes from MAILPLAN_PG_CONN_STR (or PGHOST, PGUSER, … and
    # ~/.pgpass): keep the password out of the plan.
    schema_name = "fleet_shadow_copy"
  }
}

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
  default = "known_hosts"
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

variable "mailboxes" {
  type        = map(list(string))
  default     = {}
  description = "Per domain, the mailboxes to copy; a domain not listed copies every address."
}

host "old" {
  address       = var.old_address
  port          = var.old_port
  user          = var.ssh_user
  identity_file = var.identity_file
  known_hosts   = var.known_hosts
}

module "shadow" {
  source = "../../modules/postfix-shadow-copy"

  host       = host.old
  config_dir = var.config_dir
  domain     = mailplan.workspace
  mailboxes  = lookup(var.mailboxes, mailplan.workspace, [])
  new_server = var.new_server
}

output "shadow_domain" {
  value = module.shadow.shadow_domain
}
