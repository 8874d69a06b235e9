// Command mailplan-testbed brings up mailplan's loopback test bed outside
// of `go test`, for `make demo` and for trying plans by hand: an sshd, two
// Postfix instances, "old" and "new", Dovecot over each one's Maildirs,
// and a BIND named, started by resources/testbed.
//
// Usage:
//
//	mailplan-testbed up -dir DIR [-detach] [-ttl N]
//	mailplan-testbed down -dir DIR
//	mailplan-testbed imap -addr HOST:PORT -user USER [-password P] [-mailbox M]
//	mailplan-testbed corpus -dir DIR -messages N [-seed S] [-users N|a,b] [-big] [-owner UID -group GID]
//	mailplan-testbed corpus -dir DIR -add N [-seed S]
//
// corpus builds a realistic Maildir tree (see testbed.GenerateCorpus), or
// adds new mail to one, for mailbox_copy tests and `make bench`. imap
// logs in over IMAP and prints a mailbox's UIDVALIDITY, UIDNEXT and every
// message's UID, flags and GUID, as a client sees it.
//
// up starts, on loopback only:
//
//   - sshd on 127.0.0.1 and a free port, with its own host key, client key
//     and known_hosts in DIR/sshd, taking root by key only, with
//     internal-sftp;
//   - Postfix "old" on 127.0.0.2 and "new" on 127.0.0.3, free ports, each
//     with its own config, queue, data, mail and log directories in
//     DIR/old and DIR/new and virtual Maildir delivery for example.com
//     and example.org (users user, alice and bob in each). They never
//     look up DNS and send mail nowhere (default_transport is error:)
//     until a plan says otherwise;
//   - BIND's named on 127.0.0.4 (added to lo when lo lacks it) and a free
//     port, UDP and TCP, authoritative for example.com. and example.org.
//     (each with SOA, NS, MX 10 mail.old, A records for mail.old,
//     mail.new, imap and smtp, an SPF TXT), taking RFC 2136 updates signed with the TSIG key
//     mailplan-hmac-sha256., its files (zone, journal, keys, log) in
//     DIR/named. It never recurses. With -ttl N every record but the SOA
//     and NS is served with TTL N (seconds), so that a cutover's waits
//     are short (make demo uses 3);
//   - Dovecot IMAP (plain passwords, no TLS; every user's password is
//     mailplan-test; log in as USER@DOMAIN for either domain, or as a
//     bare USER for example.com) on 127.0.0.2 over the old Postfix's Maildirs,
//     running, and on 127.0.0.3 over the new one's, set up but not
//     started, as on a new server before the move: a plan starts it
//     (the commands are in full-migration.vars.hcl). Files in
//     DIR/old-imap and DIR/new-imap.
//
// It then writes
//
//   - DIR/testbed.env: shell KEY=value lines (SSH_PORT, SSH_IDENTITY,
//     SSH_KNOWN_HOSTS, OLD_CONFIG_DIR, OLD_SMTP, OLD_MAILDIR, NEW_SMTP,
//     DNS_ADDR, DNS_PORT, DNS_ZONE, TSIG_NAME, TSIG_ALGORITHM,
//     TSIG_SECRET_FILE, …), for `. DIR/testbed.env`; the TSIG secret is
//     only in TSIG_SECRET_FILE (mode 0600), never printed;
//   - DIR/testbed.vars.hcl: values for the variables of
//     plans/examples/shadow-copy, for `mailplan plan
//     -var-file=DIR/testbed.vars.hcl`;
//   - DIR/full-migration.vars.hcl: the same for
//     plans/examples/full-migration (the TSIG secret excepted: export
//     MAILPLAN_VAR_tsig_secret="$(cat $TSIG_SECRET_FILE)");
//   - DIR/testbed.pids: the processes it started, each with its start
//     time, so that down stops exactly those;
//
// prints a summary and stays in the foreground until SIGINT or SIGTERM,
// when it stops every server and removes what it wrote. With -detach it
// exits at once, leaving the servers running; `mailplan-testbed down -dir
// DIR` stops them later. down signals a PID only after checking that it
// is still the process up started (same start time, same configuration);
// a Postfix master restarted with `postfix -c CONFIG_DIR start` is
// followed through its master.pid.
//
// up needs root (Postfix's master runs as root, named changes to the bind
// user), sshd, Postfix, bind9 and bind9-dnsutils, and dovecot-imapd:
// `make deps` installs them on Debian. DIR must be reachable by the postfix and
// nobody users (e.g. under /tmp), and its path may hold only letters,
// digits and /._+-.
package main
