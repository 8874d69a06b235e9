dns_server "primary" { # ERROR: Missing required argument
  tsig_key_name = "mailplan."
}
