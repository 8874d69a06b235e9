variable "key" {
  type      = string
  sensitive = true
}

variable "note" {
  type = string
}

variable "name" {
  type = string
}

resource "file" "this" {
  for_each = toset([var.name])
  host     = host.new
  path     = "/srv/${each.key}"
  content  = var.note
}
