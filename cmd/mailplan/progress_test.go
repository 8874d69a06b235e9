package main

import (
	"strings"
	"testing"
	"time"
)

// Without a terminal, progress is a plain line now and then, ending with
// the whole amount.
func TestProgressLines(t *testing.T) {
	var b strings.Builder
	p := &progress{addr: "mailbox_copy.all", w: &b, every: time.Hour, last: time.Now()}
	p.Total(3<<20, "bytes")
	p.Add(1 << 20)
	p.Add(1 << 20)
	p.Add(1 << 20)
	got := b.String()
	if strings.Count(got, "\n") != 1 || !strings.Contains(got, "mailbox_copy.all: 3.0 MiB of 3.0 MiB (100%)") {
		t.Errorf("progress lines:\n%s", got)
	}
	var tty strings.Builder
	p = &progress{addr: "mailbox_copy.all", w: &tty, tty: true, every: time.Hour}
	p.Total(1000, "messages")
	p.Add(1000)
	if !strings.Contains(tty.String(), "mailbox_copy.all") {
		t.Errorf("bar:\n%q", tty.String())
	}
}
