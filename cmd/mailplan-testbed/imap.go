package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/mailplan/mailplan/resources/testbed"
)

const imapUsage = `usage:
  mailplan-testbed imap -addr HOST:PORT -user USER [-password P] [-mailbox M]
                                           log in over IMAP and show a mailbox:
                                           its UIDVALIDITY, UIDNEXT and every message's UID and flags
`

// imap logs in to an IMAP server of the test bed and prints a mailbox, as
// a user's client would see it.
func imap(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("mailplan-testbed imap", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() { fmt.Fprint(stderr, imapUsage); flags.PrintDefaults() }
	addr := flags.String("addr", "", "the IMAP server, HOST:PORT (testbed.env: $NEW_IMAP_ADDR:$NEW_IMAP_PORT)")
	user := flags.String("user", "", "the user to log in as")
	password := flags.String("password", "mailplan-test", "the password ($IMAP_PASSWORD)")
	mailbox := flags.String("mailbox", "INBOX", "the mailbox to select")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *addr == "" || *user == "" || flags.NArg() > 0 {
		fmt.Fprintf(stderr, "mailplan-testbed imap: -addr and -user are required, and nothing else\n%s", imapUsage)
		return 2
	}
	mb, err := testbed.IMAPSelectAt(*addr, *user, *password, *mailbox)
	if err != nil {
		fmt.Fprintf(stderr, "mailplan-testbed imap: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s@%s %s: %d messages, UIDVALIDITY %d, UIDNEXT %d\n", *user, *addr, *mailbox, mb.Exists, mb.UIDValidity, mb.UIDNext)
	for _, m := range mb.Messages {
		flags := m.Flags
		if flags == "" {
			flags = "-"
		}
		fmt.Fprintf(stdout, "  UID %-4d flags %-20s GUID %s\n", m.UID, flags, m.GUID)
	}
	return 0
}
