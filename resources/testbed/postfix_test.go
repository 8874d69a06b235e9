package testbed

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// uniqueID returns a string found in no other message.
func uniqueID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "mailplan-" + hex.EncodeToString(b)
}

// fatalRecorder is a testing.TB whose Fatal and Skip record the message
// and end the goroutine, to check that a helper refuses its arguments.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fatalRecorder) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }
func (f *fatalRecorder) Skipf(format string, args ...any) {
	f.Fatalf("skipped: "+format, args...)
}
func (f *fatalRecorder) Skip(args ...any) { f.Fatalf("skipped: %s", fmt.Sprint(args...)) }

// TestPostfixOptions checks that bad options fail before anything is
// created, on any machine.
func TestPostfixOptions(t *testing.T) {
	tests := []struct {
		name string
		opts PostfixOptions
		want string
	}{
		{"public address", PostfixOptions{Name: "old", Addr: "192.0.2.1"}, "not in 127.0.0.0/8"},
		{"wildcard", PostfixOptions{Name: "old", Addr: "0.0.0.0"}, "not in 127.0.0.0/8"},
		{"ipv6 loopback", PostfixOptions{Name: "old", Addr: "::1"}, "not in 127.0.0.0/8"},
		{"no address", PostfixOptions{Name: "old"}, "not in 127.0.0.0/8"},
		{"name with a dollar", PostfixOptions{Name: "o$ld", Addr: "127.0.0.2"}, "not a lower-case word"},
		{"local part with a space", PostfixOptions{Name: "old", Addr: "127.0.0.2", Users: []string{"a b"}}, "not a plain"},
		{"extra domain twice", PostfixOptions{Name: "old", Addr: "127.0.0.2", ExtraDomains: []string{"example.com"}}, "listed twice"},
		{"extra domain not a name", PostfixOptions{Name: "old", Addr: "127.0.0.2", ExtraDomains: []string{"x y"}}, "not a lower-case DNS name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &fatalRecorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				Postfix(rec, tt.opts)
			}()
			<-done
			if !strings.Contains(rec.msg, tt.want) {
				t.Errorf("Postfix(%+v) failed with %q, want %q", tt.opts, rec.msg, tt.want)
			}
		})
	}
}

// TestPostfix runs two real instances, "old" and "new", and the
// mechanics of the shadow-copy runbook: old delivers locally and sends a
// BCC copy, rewritten back to the original address, to new.
func TestPostfix(t *testing.T) {
	start := time.Now()
	old := Postfix(t, PostfixOptions{Name: "old", Addr: "127.0.0.2"})
	newer := Postfix(t, PostfixOptions{Name: "new", Addr: "127.0.0.3"})
	t.Logf("both started in %v", time.Since(start))

	if !old.Running() || !newer.Running() {
		t.Fatal("instances not running after Postfix")
	}
	if got := strings.TrimSpace(old.Postconf(t, "-h", "myhostname")); got != "old.test" {
		t.Errorf("old myhostname = %q", got)
	}

	t.Run("local delivery", func(t *testing.T) {
		id := uniqueID(t)
		out, err := Swaks(t, old.SMTPAddr(), "sender@example.org", "user@example.com", map[string]string{"Subject": id}, "body "+id)
		if err != nil {
			t.Fatalf("swaks: %v\n%s", err, out)
		}
		old.WaitForMail(t, "user", id, 10*time.Second)
		if n := len(newer.Messages("user")); n != 0 {
			t.Errorf("new has %d messages, want none", n)
		}
	})

	t.Run("unknown user rejected", func(t *testing.T) {
		out, err := Swaks(t, old.SMTPAddr(), "sender@example.org", "nobody-here@example.com", nil, "x")
		if err == nil {
			t.Fatalf("swaks to a missing mailbox succeeded:\n%s", out)
		}
		if !strings.Contains(out, "550") {
			t.Errorf("no 550 in:\n%s", out)
		}
	})

	t.Run("shadow copy", func(t *testing.T) {
		step := time.Now()
		transport := filepath.Join(old.ConfigDir, "transport")
		generic := filepath.Join(old.ConfigDir, "generic.pcre")
		bcc := filepath.Join(old.ConfigDir, "bcc.pcre")
		write := func(p, s string) {
			if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write(transport, "example.com.migration smtp:[127.0.0.3]:"+strconv.Itoa(newer.Port)+"\n")
		write(generic, `/^(.*)@example\.com\.migration$/ ${1}@example.com`+"\n")
		write(bcc, `/^(.*)@example\.com$/ ${1}@example.com.migration`+"\n")
		old.Postconf(t, "-e",
			"transport_maps = hash:"+transport,
			"smtp_generic_maps = pcre:"+generic,
			"recipient_bcc_maps = pcre:"+bcc)
		old.Postmap(t, "hash:"+transport)
		old.Reload(t)
		t.Logf("configured in %v", time.Since(step))

		id := uniqueID(t)
		out, err := Swaks(t, old.SMTPAddr(), "sender@example.org", "user@example.com", map[string]string{"Subject": id}, "body "+id)
		if err != nil {
			t.Fatalf("swaks: %v\n%s", err, out)
		}
		old.WaitForMail(t, "user", id, 10*time.Second)
		m := newer.WaitForMail(t, "user", id, 10*time.Second)
		if !strings.Contains(string(m), "Delivered-To: user@example.com\n") {
			t.Errorf("copy at new not delivered to user@example.com:\n%s", m)
		}
		if strings.Contains(string(m), "example.com.migration") {
			t.Errorf("copy at new mentions the .migration address:\n%s", m)
		}
		deadline := time.Now().Add(5 * time.Second)
		for !old.QueueEmpty(t) {
			if time.Now().After(deadline) {
				t.Fatalf("old queue not empty:\n%s", old.Postconf(t, "-h", "queue_directory"))
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("shadow copy in %v", time.Since(step))
	})

	t.Run("relay host", func(t *testing.T) {
		// A third instance, for another domain, sends everything not its
		// own to new.
		relay := Postfix(t, PostfixOptions{Name: "relay", Addr: "127.0.0.4", Domain: "example.net", Users: []string{"carol"},
			RelayHost: "[127.0.0.3]:" + strconv.Itoa(newer.Port)})
		id := uniqueID(t)
		if out, err := Swaks(t, relay.SMTPAddr(), "carol@example.net", "bob@example.com", nil, id); err != nil {
			t.Fatalf("swaks: %v\n%s", err, out)
		}
		newer.WaitForMail(t, "bob", id, 10*time.Second)
		// Without a relay host, mail for other domains resolves to the
		// error: transport, which smtpd refuses at RCPT: it never leaves.
		out, err := Swaks(t, old.SMTPAddr(), "sender@example.org", "someone@example.net", nil, "x")
		if err == nil || !strings.Contains(out, "550 5.1.1") || !strings.Contains(out, "no outbound mail in the test bed") {
			t.Errorf("mail to another domain without a relay host: %v\n%s", err, out)
		}
	})

	t.Run("stop start", func(t *testing.T) {
		step := time.Now()
		newer.Stop(t)
		if newer.Running() {
			t.Fatal("running after Stop")
		}
		t.Logf("stopped in %v", time.Since(step))
		step = time.Now()
		newer.Start(t)
		if !newer.Running() {
			t.Fatal("not running after Start")
		}
		t.Logf("started in %v", time.Since(step))
		id := uniqueID(t)
		if out, err := Swaks(t, newer.SMTPAddr(), "sender@example.org", "alice@example.com", nil, id); err != nil {
			t.Fatalf("swaks: %v\n%s", err, out)
		}
		newer.WaitForMail(t, "alice", id, 10*time.Second)

		// The command line's stop and start, as code under test would
		// run them: Running follows the master.
		step = time.Now()
		cmd := exec.Command(RequireSbin(t, "postfix"), "-c", newer.ConfigDir, "stop")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("postfix stop: %v\n%s", err, out)
		}
		if newer.Running() {
			t.Fatal("running after postfix stop")
		}
		t.Logf("postfix stop in %v", time.Since(step))
		cmd = exec.Command(RequireSbin(t, "postfix"), "-c", newer.ConfigDir, "start")
		logf, err := os.Create(filepath.Join(t.TempDir(), "start.log"))
		if err != nil {
			t.Fatal(err)
		}
		defer logf.Close()
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Run(); err != nil {
			t.Fatalf("postfix start: %v", err)
		}
		if !newer.Running() {
			t.Fatal("not running after postfix start")
		}
	})
}

// TestPostfixExtraDomains: every domain's users get a Maildir and their
// mail; others are refused.
func TestPostfixExtraDomains(t *testing.T) {
	p := Postfix(t, PostfixOptions{Name: "multi", Addr: "127.0.0.2", ExtraDomains: []string{"example.org"}, Users: []string{"alice"}})
	if got := strings.TrimSpace(p.Postconf(t, "-h", "virtual_mailbox_domains")); got != "example.com example.org" {
		t.Errorf("virtual_mailbox_domains = %q", got)
	}
	for _, d := range []string{"example.com", "example.org"} {
		id := uniqueID(t)
		if out, err := Swaks(t, p.SMTPAddr(), "sender@example.net", "alice@"+d, map[string]string{"Subject": id}, "body "+id); err != nil {
			t.Fatalf("swaks to alice@%s: %v\n%s", d, err, out)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			files, _ := filepath.Glob(filepath.Join(p.MaildirIn(d, "alice"), "new", "*"))
			if len(files) == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("alice@%s: %d messages in %s", d, len(files), p.MaildirIn(d, "alice"))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if out, err := Swaks(t, p.SMTPAddr(), "sender@example.net", "alice@example.net", nil, "x"); err == nil {
		t.Errorf("mail for a domain not served was accepted:\n%s", out)
	}
}
