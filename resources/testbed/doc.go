// Package testbed starts real servers for tests, each in the test's own
// directories and on free ports, stopped when the test ends:
//
//   - SSHD: an OpenSSH sshd on 127.0.0.1 with its own host key, client key
//     and known_hosts, and internal-sftp;
//   - Postfix: a Postfix instance ("old", "new", …) on its own 127.0.0.x
//     address, with its own config, queue and data directories and virtual
//     Maildir delivery for a domain; it never looks up DNS and sends mail
//     nowhere but to another test bed instance;
//   - Named: BIND 9 authoritative for test zones on its own 127.0.0.x
//     address and port, with TSIG keys of every algorithm allowed to
//     update them (dynamic updates go to a journal in the test's directory);
//   - Dovecot: an IMAP server on a loopback port over users' Maildirs, with
//     doveadm and a small real IMAP client to read folders, counts, flags,
//     UIDVALIDITY and UIDs as clients see them;
//   - GenerateCorpus and AddMessages: realistic Maildir++ trees (several
//     users, nested and oddly named folders, sizes from 0 bytes to 25 MiB,
//     flags and keywords, a Dovecot-made dovecot-uidlist per mailbox);
//   - Resolver: BIND as a caching resolver forwarding to a test's named,
//     to show cached answers expiring at their TTL;
//   - Swaks: sends a message with swaks, as a remote MTA would;
//   - LatencyProxy: a TCP proxy that delays every chunk, to measure round
//     trips to an SSH host (this kernel may have no netem).
//
// The conformance checks every transport.Host implementation runs are in
// package resources/transport/transporttest; testbed only provides the
// servers.
//
// Tests use SSHD and Postfix, which stop the server and remove its files
// when the test ends. Commands (cmd/mailplan-testbed, which `make demo`
// reuses) use StartSSHD and StartPostfix, whose servers stop with Close,
// or later, from another process, with Process.Stop.
//
// Postfix raises net.unix.max_dgram_qlen to 512 when it is lower (as
// systemd sets it on Debian): with the kernel's 10, a loaded machine can
// wedge an instance's postlogd, and every Postfix command with it.
//
// Servers listen on loopback addresses only. A missing server binary skips
// the test on a laptop and fails it under CI=true or MAILPLAN_E2E=1 (see
// Require): runtime gating, not build tags. The test bed signals only
// processes it started, by PID, after checking that the PID still names
// that process.
package testbed
