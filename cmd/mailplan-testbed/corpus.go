package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/mailplan/mailplan/resources/testbed"
)

const corpusUsage = `usage:
  mailplan-testbed corpus -dir DIR -messages N [-seed S] [-users U] [-big] [-owner UID -group GID]
      write Maildir++ trees DIR/USER/Maildir with N messages in all, and
      Dovecot's dovecot-uidlist files (made by doveadm)
  mailplan-testbed corpus -dir DIR -add N [-seed S]
      deliver N new messages into new/ of the Maildirs under DIR
`

// corpusUserNames are the names -users N takes, in order.
var corpusUserNames = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"}

// corpus runs the corpus command with args (after "corpus").
func corpus(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("mailplan-testbed corpus", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() { fmt.Fprint(stderr, corpusUsage); flags.PrintDefaults() }
	dir := flags.String("dir", "", "directory to fill (required): DIR/USER/Maildir")
	messages := flags.Int("messages", 0, "number of messages, across users and folders")
	add := flags.Int("add", 0, "deliver this many new messages to the existing Maildirs under DIR instead")
	seed := flags.Int64("seed", 1, "seed: the same seed makes the same messages")
	users := flags.String("users", "", "user names, comma-separated, or a number of users (alice, bob, …); default alice,bob,carol")
	big := flags.Bool("big", false, "include the handful of messages of 5 to 25 MiB (default: the largest is 5 MiB)")
	owner := flags.Int("owner", -1, "numeric uid to own the files (-1: the writer)")
	group := flags.Int("group", -1, "numeric gid to own the files (-1: the writer's)")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *dir == "" || flags.NArg() > 0 || (*messages <= 0) == (*add <= 0) {
		fmt.Fprintf(stderr, "mailplan-testbed corpus: -dir DIR and one of -messages N or -add N are required, and nothing else\n%s", corpusUsage)
		return 2
	}
	start := time.Now()
	if *add > 0 {
		added, err := testbed.AddMessages(*dir, *add, *seed)
		if err != nil {
			fmt.Fprintf(stderr, "mailplan-testbed corpus: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "added %d messages to new/ of the Maildirs under %s in %v\n", len(added), *dir, time.Since(start).Round(time.Millisecond))
		return 0
	}
	opts := testbed.CorpusOptions{Root: *dir, Messages: *messages, Seed: *seed, MaxSize: 5 << 20, Owner: *owner, Group: *group}
	if *big {
		opts.MaxSize = 25 << 20
	}
	if *users != "" {
		u, err := parseUsers(*users)
		if err != nil {
			fmt.Fprintf(stderr, "mailplan-testbed corpus: -users: %v\n", err)
			return 2
		}
		opts.Users = u
	}
	c, err := testbed.GenerateCorpus(opts)
	if err != nil {
		fmt.Fprintf(stderr, "mailplan-testbed corpus: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "corpus in %s: %d messages, %d bytes (%.1f MiB), %d users, %d Maildirs, in %v\n",
		c.Root, c.Messages, c.Bytes, float64(c.Bytes)/(1<<20), len(c.Users), len(c.Mailboxes), time.Since(start).Round(time.Millisecond))
	return 0
}

// parseUsers reads -users: a number of users, or names.
func parseUsers(s string) ([]string, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 {
			return nil, fmt.Errorf("%d users", n)
		}
		var out []string
		for i := 0; i < n; i++ {
			if i < len(corpusUserNames) {
				out = append(out, corpusUserNames[i])
			} else {
				out = append(out, "user"+strconv.Itoa(i+1))
			}
		}
		return out, nil
	}
	var out []string
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out, nil
}
