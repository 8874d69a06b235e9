// Package smtpprobe is the `smtp_probe` resource type: a gate that
// proves mail for an address really lands where it should.
//
// At apply time (the engine's Checker interface: every apply that
// reaches the gate, in dependency order) it sends a probe message, with
// a unique token in the X-Mailplan-Probe header and the subject, to the
// recipient: through a given SMTP server, or as the world would, to the
// recipient domain's MX hosts in preference order (found through a
// dns_server block or a recursive resolver, by resources/transport/
// dnsclient). It then looks for the token in the recipient's Maildir on
// a host (new/ and cur/, reading only the header of each new file,
// through resources/transport) or over IMAP (a small client in this
// package: LOGIN, SELECT, UID SEARCH HEADER, UID STORE, UID EXPUNGE),
// and removes the probe once found unless told to keep it.
//
// It also proves the opposite: expect = "reject" passes when RCPT TO is
// refused with a 5xx reply, and deliver = false stops after an accepted
// RCPT TO (RSET, QUIT) so that nothing is sent.
//
// Plan never shows a change: what the probe will do is the instance's
// pending step, and nothing the gate reads makes a saved plan stale.
// Before a probe is sent, Apply journals its token and where it lands,
// so that a rollback (Restore) removes a kept probe, or one an
// interrupted apply left; a probe that was removed is recorded as gone.
// Passwords (imap's) never reach the journal, the state, logs or
// errors.
//
// It imports no other resource package.
package smtpprobe
