variable "domain" {
  type        = string
  default     = "example.com"
  description = "The mail domain."
}

variable "relay_password" {
  type      = string
  sensitive = true
  default   = "hunter2-do-not-print"
}

host "new" {
  transport = "local"
}

resource "file" "mailname" {
  host    = host.new
  path    = "/etc/mailname"
  content = "mail.${var.domain}"
  mode    = "0644"
}

resource "sasl_password" "relay" {
  count    = 1
  host     = host.new
  relay    = "[smtp.example.net]:587"
  password = "hunter2-do-not-print"

  lifecycle {
    prevent_destroy = true
  }
}

module "site" {
  source     = "./site"
  key        = "hunter2-do-not-print"
  note       = "hunter2-do-not-print"
  name       = "a"
  depends_on = [file.mailname]
}

output "mailname" {
  value = file.mailname.path
}

output "token" {
  value     = "hunter2-do-not-print"
  sensitive = true
}
