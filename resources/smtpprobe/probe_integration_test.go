package smtpprobe_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/smtpprobe"
	"github.com/mailplan/mailplan/resources/testbed"
	"github.com/mailplan/mailplan/resources/transport/dnsclient"
)

var localHost = resource.Host{Name: "new", Transport: "local"}

var domains = []string{"example.com", "example.org"}

// newServer is a Postfix delivering example.com and example.org to
// virtual Maildirs, and a Dovecot serving them as USER@DOMAIN.
func newServer(t *testing.T, addr string) (*testbed.PostfixInstance, *testbed.DovecotServer) {
	t.Helper()
	p := testbed.Postfix(t, testbed.PostfixOptions{Name: "new", Addr: addr, ExtraDomains: domains[1:]})
	d := testbed.Dovecot(t, testbed.DovecotOptions{Addr: addr, Users: p.Users, MailRoot: p.MailDir, Domains: p.Domains, MaildirIsHome: true})
	return p, d
}

// logBuffer is a logger that keeps what it logs, for the test to read,
// and shows it in the test log.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLog(t *testing.T) (hclog.Logger, *logBuffer) {
	lb := &logBuffer{}
	t.Cleanup(func() { t.Log("log:\n" + lb.String()) })
	return hclog.New(&hclog.LoggerOptions{Name: "probe", Level: hclog.Debug, Output: lb}), lb
}

type fixture struct {
	t     *testing.T
	probe *smtpprobe.Probe
	pf    *testbed.PostfixInstance
	dc    *testbed.DovecotServer
}

func newFixture(t *testing.T, addr string) *fixture {
	pf, dc := newServer(t, addr)
	dns := dnsclient.NewPool(resourcetest.Logger(t), dnsclient.Options{Timeout: 2 * time.Second})
	return &fixture{t: t, probe: smtpprobe.New(resourcetest.Pool(t), dns), pf: pf, dc: dc}
}

// config builds and validates a configuration: to the fixture's server,
// with a short interval, unless attrs say otherwise.
func (f *fixture) config(attrs map[string]cty.Value) cty.Value {
	f.t.Helper()
	if _, ok := attrs["server"]; !ok {
		attrs["server"] = cty.StringVal(f.pf.SMTPAddr())
	}
	if v, ok := attrs["server"]; ok && v == cty.NilVal {
		delete(attrs, "server")
	}
	if _, ok := attrs["interval"]; !ok {
		attrs["interval"] = cty.StringVal("100ms")
	}
	c := resourcetest.Config(f.t, f.probe, attrs)
	if err := f.probe.Validate(context.Background(), c); err != nil {
		f.t.Fatalf("Validate: %v", err)
	}
	return c
}

// maildirConfig looks for the probe to local@domain in its Maildir.
func (f *fixture) maildirConfig(local, domain string, attrs map[string]cty.Value) cty.Value {
	attrs["recipient"] = cty.StringVal(local + "@" + domain)
	attrs["host"] = resourcetest.HostValue(f.t, localHost)
	if _, ok := attrs["maildir"]; !ok {
		attrs["maildir"] = cty.StringVal(f.pf.MaildirIn(domain, local))
	}
	return f.config(attrs)
}

func (f *fixture) imapConfig(local, domain string, attrs map[string]cty.Value) cty.Value {
	attrs["recipient"] = cty.StringVal(local + "@" + domain)
	attrs["imap"] = cty.MapVal(map[string]cty.Value{
		"address":  cty.StringVal(f.dc.IMAPAddr()),
		"username": cty.StringVal(local + "@" + domain),
		"password": cty.StringVal(f.dc.Password),
	})
	return f.config(attrs)
}

// check runs the gate as the engine does at apply time, and returns its
// error and journal.
func (f *fixture) check(cfg cty.Value, log hclog.Logger) ([][]byte, error) {
	f.t.Helper()
	read, plan := resourcetest.ReadPlan(context.Background(), f.t, f.probe, cfg)
	if !plan.Planned.RawEquals(read.Current) {
		f.t.Fatal("the plan of a probe is a change")
	}
	f.t.Logf("plan: %s", plan.Pending)
	j := &resourcetest.Journal{}
	err := f.probe.Check(context.Background(), resource.ApplyRequest{Config: cfg, Current: read.Current, Planned: plan.Planned,
		Snapshot: read.Snapshot, Journal: j, Logger: log})
	return j.Entries(), err
}

func (f *fixture) restore(cfg cty.Value, journal [][]byte) {
	f.t.Helper()
	if err := f.probe.Restore(context.Background(), resource.RestoreRequest{Config: cfg, Snapshot: []byte("{}"), Journal: journal, Logger: resourcetest.Logger(f.t)}); err != nil {
		f.t.Fatalf("Restore: %v", err)
	}
}

// files lists the messages in a Maildir (new/ and cur/).
func files(t testing.TB, maildir string) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"new", "cur"} {
		es, err := os.ReadDir(filepath.Join(maildir, sub))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, e := range es {
			out = append(out, sub+"/"+e.Name())
		}
	}
	sort.Strings(out)
	return out
}

func mustContain(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s does not say %q:\n%s", what, w, s)
		}
	}
}

// TestProbeMaildir: a probe to each domain lands in its Maildir, is
// reported with the SMTP reply and where it landed, and is removed; a
// kept one stays until a rollback removes it.
func TestProbeMaildir(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "127.0.0.31")
	for _, domain := range domains {
		t.Run(domain, func(t *testing.T) {
			maildir := f.pf.MaildirIn(domain, "alice")
			cfg := f.maildirConfig("alice", domain, map[string]cty.Value{})
			log, lb := newLog(t)
			journal, err := f.check(cfg, log)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			mustContain(t, "the log", lb.String(), "probe accepted", "250 2.0.0 Ok: queued as ", "probe found", filepath.Join(maildir, "new")+"/", "probe removed")
			if got := files(t, maildir); len(got) != 0 {
				t.Errorf("the probe was not removed: %v", got)
			}
			if len(journal) != 3 || !strings.Contains(string(journal[2]), `"gone"`) {
				t.Errorf("journal %q", journal)
			}
			f.restore(cfg, journal) // nothing to do

			kept := f.maildirConfig("alice", domain, map[string]cty.Value{"keep": cty.True})
			journal, err = f.check(kept, log)
			if err != nil {
				t.Fatalf("Check with keep: %v", err)
			}
			got := files(t, maildir)
			if len(got) != 1 {
				t.Fatalf("kept probe: %v", got)
			}
			msg, err := os.ReadFile(filepath.Join(maildir, got[0]))
			if err != nil {
				t.Fatal(err)
			}
			mustContain(t, "the kept probe", string(msg), "X-Mailplan-Probe: mp-", "Subject: mailplan delivery probe mp-", "To: <alice@"+domain+">")
			f.restore(kept, journal)
			if got := files(t, maildir); len(got) != 0 {
				t.Errorf("the kept probe is still there after a rollback: %v", got)
			}
			f.restore(kept, journal) // twice: nothing left to do
		})
	}
}

// TestProbeIMAP: the same, found and removed over IMAP as USER@DOMAIN;
// the probe is in no other domain's mailbox.
func TestProbeIMAP(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "127.0.0.32")
	for _, domain := range domains {
		t.Run(domain, func(t *testing.T) {
			cfg := f.imapConfig("bob", domain, map[string]cty.Value{})
			log, lb := newLog(t)
			journal, err := f.check(cfg, log)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			mustContain(t, "the log", lb.String(), "250 2.0.0 Ok: queued as ", `where="mailbox \"INBOX\" of bob@`+domain+" at IMAP "+f.dc.IMAPAddr()+", UID ", "probe removed")
			if strings.Contains(lb.String(), f.dc.Password) || strings.Contains(strings.Join(toStrings(journal), ""), f.dc.Password) {
				t.Error("the password is in the log or the journal")
			}
			if mb := f.dc.IMAPSelect(t, "bob@"+domain, "INBOX"); mb.Exists != 0 {
				t.Errorf("INBOX of bob@%s holds %d messages after the probe", domain, mb.Exists)
			}

			kept := f.imapConfig("bob", domain, map[string]cty.Value{"keep": cty.True})
			journal, err = f.check(kept, log)
			if err != nil {
				t.Fatalf("Check with keep: %v", err)
			}
			if mb := f.dc.IMAPSelect(t, "bob@"+domain, "INBOX"); mb.Exists != 1 {
				t.Errorf("INBOX of bob@%s holds %d messages, want the kept probe", domain, mb.Exists)
			}
			for _, other := range domains {
				if other != domain {
					if mb := f.dc.IMAPSelect(t, "bob@"+other, "INBOX"); mb.Exists != 0 {
						t.Errorf("the probe to bob@%s is also at bob@%s", domain, other)
					}
				}
			}
			f.restore(kept, journal)
			if mb := f.dc.IMAPSelect(t, "bob@"+domain, "INBOX"); mb.Exists != 0 {
				t.Errorf("the kept probe is still there after a rollback: %d messages", mb.Exists)
			}
		})
	}
	// A wrong password fails, without showing it.
	bad := f.config(map[string]cty.Value{"recipient": cty.StringVal("bob@example.com"), "timeout": cty.StringVal("5s"),
		"imap": cty.MapVal(map[string]cty.Value{"address": cty.StringVal(f.dc.IMAPAddr()), "username": cty.StringVal("bob@example.com"), "password": cty.StringVal("wrong-secret")})})
	log, lb := newLog(t)
	journal, err := f.check(bad, log)
	if err == nil || strings.Contains(err.Error(), "wrong-secret") || strings.Contains(lb.String(), "wrong-secret") {
		t.Fatalf("Check with a wrong password: %v", err)
	}
	mustContain(t, "the error", err.Error(), "IMAP login as bob@example.com", "AUTHENTICATIONFAILED")
	// The probe was delivered; the rollback (with the right password
	// now configured) removes it.
	f.restore(f.imapConfig("bob", "example.com", map[string]cty.Value{}), journal)
	if got := files(t, f.pf.MaildirIn("example.com", "bob")); len(got) != 0 {
		t.Errorf("probe left after the rollback: %v", got)
	}
}

func toStrings(bs [][]byte) []string {
	var out []string
	for _, b := range bs {
		out = append(out, string(b))
	}
	return out
}

// TestProbeRefusals: expect = "reject" passes on a 5xx RCPT reply and
// fails when the recipient is accepted; expect = "accept" to a missing
// mailbox fails at once naming the reply; deliver = false accepts an
// existing mailbox and sends nothing.
func TestProbeRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "127.0.0.33")
	log, lb := newLog(t)
	maildir := f.pf.MaildirIn("example.org", "alice")
	rcpt := func(addr string, attrs map[string]cty.Value) cty.Value {
		attrs["recipient"] = cty.StringVal(addr)
		return f.config(attrs)
	}
	reject := map[string]cty.Value{"expect": cty.StringVal("reject")}

	if j, err := f.check(rcpt("nobody@example.org", reject), log); err != nil || len(j) != 0 {
		t.Errorf("reject of a missing mailbox: %v, journal %q", err, j)
	}
	mustContain(t, "the log", lb.String(), "probe refused, as expected", "550 5.1.1 <nobody@example.org>")

	_, err := f.check(rcpt("alice@example.org", map[string]cty.Value{"expect": cty.StringVal("reject")}), log)
	if err == nil {
		t.Fatal("expect reject passed for an existing mailbox")
	}
	mustContain(t, "the error", err.Error(), "accepted RCPT TO:<alice@example.org> (250 2.1.5 Ok)", `expect = "reject"`)

	start := time.Now()
	j, err := f.check(rcpt("nobody@example.org", map[string]cty.Value{"host": resourcetest.HostValue(t, localHost),
		"maildir": cty.StringVal(f.pf.MaildirIn("example.org", "nobody"))}), log)
	if err == nil {
		t.Fatal("a probe to a missing mailbox passed")
	}
	mustContain(t, "the error", err.Error(), "refused RCPT TO:<nobody@example.org>: 550 5.1.1", "User unknown in virtual mailbox table")
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("a refusal took %v: it is final, not retried until the timeout", took)
	}
	if len(j) != 2 || !strings.Contains(string(j[1]), `"lost"`) {
		t.Errorf("journal %q", j)
	}

	if j, err := f.check(rcpt("alice@example.org", map[string]cty.Value{"deliver": cty.False}), log); err != nil || len(j) != 0 {
		t.Errorf("deliver = false for an existing mailbox: %v, journal %q", err, j)
	}
	mustContain(t, "the log", lb.String(), "recipient accepted, nothing sent")
	_, err = f.check(rcpt("nobody@example.org", map[string]cty.Value{"deliver": cty.False}), log)
	if err == nil {
		t.Fatal("deliver = false passed for a missing mailbox")
	}
	mustContain(t, "the error", err.Error(), "550 5.1.1")
	if got := files(t, maildir); len(got) != 0 {
		t.Errorf("something was delivered: %v", got)
	}
	if !f.pf.QueueEmpty(t) {
		t.Error("something is queued")
	}
}

// TestProbeTimeouts: a probe looked for in the wrong Maildir, and a
// server that does not listen, fail after the timeout with a clear
// error.
func TestProbeTimeouts(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "127.0.0.34")
	log, _ := newLog(t)
	wrong := f.maildirConfig("alice", "example.com", map[string]cty.Value{"maildir": cty.StringVal(f.pf.MaildirIn("example.com", "bob")), "timeout": cty.StringVal("2s")})
	start := time.Now()
	journal, err := f.check(wrong, log)
	took := time.Since(start)
	if err == nil {
		t.Fatal("a probe looked for in the wrong Maildir was found")
	}
	mustContain(t, "the error", err.Error(), "is not in Maildir "+f.pf.MaildirIn("example.com", "bob"), "250 2.0.0 Ok: queued as ", "after 2s")
	if took < 2*time.Second || took > 10*time.Second {
		t.Errorf("gave up after %v, want about 2 s", took)
	}
	f.restore(wrong, journal) // looks once in bob's Maildir, finds nothing
	if got := files(t, f.pf.MaildirIn("example.com", "alice")); len(got) != 1 {
		t.Errorf("alice's Maildir: %v, want the lost probe", got)
	}

	dead := f.maildirConfig("alice", "example.com", map[string]cty.Value{"server": cty.StringVal("127.0.0.34:1"), "timeout": cty.StringVal("2s")})
	start = time.Now()
	_, err = f.check(dead, log)
	took = time.Since(start)
	if err == nil {
		t.Fatal("a probe through a server that does not listen passed")
	}
	mustContain(t, "the error", err.Error(), "not decided after 2s", "127.0.0.34:1", "connection refused")
	if took > 10*time.Second {
		t.Errorf("gave up after %v, want about 2 s", took)
	}
}

// TestProbeMX: without a server, the probe goes to the recipient
// domain's MX hosts, found through BIND (as a dns_server, and as a
// resolver), in preference order, past one that does not answer.
func TestProbeMX(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "127.0.0.35")
	old := testbed.Postfix(t, testbed.PostfixOptions{Name: "old", Addr: "127.0.0.36", Users: []string{"alice"}})
	n := testbed.Named(t, testbed.NamedOptions{Addr: "127.0.0.37", Zones: []string{"example.com.", "example.org."}})
	for _, z := range []string{"example.com.", "example.org."} {
		n.SetRRset(t, "mail.new."+z, "A", 60, f.pf.Addr)
		n.SetRRset(t, "mail.old."+z, "A", 60, old.Addr)
		n.SetRRset(t, "mail.dead."+z, "A", 60, "127.0.0.38")
	}
	k := n.Keys["hmac-sha256"]
	server, err := gocty.ToCtyValue(resource.DNSServer{Name: "primary", Address: n.Server(), TSIGKeyName: k.Name, TSIGAlgorithm: k.Algorithm, TSIGSecret: k.Secret}, resource.DNSServerType)
	if err != nil {
		t.Fatal(err)
	}
	routes := map[string]cty.Value{"dns_server": server, "resolver": cty.StringVal(n.Server())}
	for _, domain := range domains {
		for name, route := range routes {
			t.Run(domain+"/"+name, func(t *testing.T) {
				log, lb := newLog(t)
				z := domain + "."
				// The new server first; the old one (another port) second.
				n.SetRRset(t, z, "MX", 60, "10 mail.new."+z, "20 mail.old."+z)
				cfg := f.maildirConfig("alice", domain, map[string]cty.Value{"server": cty.NilVal, name: route, "port": cty.NumberIntVal(int64(f.pf.Port))})
				if _, err := f.check(cfg, log); err != nil {
					t.Fatalf("Check: %v", err)
				}
				mustContain(t, "the log", lb.String(), fmt.Sprintf("MX 10 mail.new.%s (%s:%d, from ", z, f.pf.Addr, f.pf.Port), "probe removed")
				// A dead first MX host: the next one takes the probe.
				n.SetRRset(t, z, "MX", 60, "5 mail.dead."+z, "10 mail.new."+z)
				if _, err := f.check(cfg, log); err != nil {
					t.Fatalf("Check past a dead MX host: %v", err)
				}
				mustContain(t, "the log", lb.String(), "mail.dead."+z, "connection refused", fmt.Sprintf("via=\"MX 10 mail.new.%s", z))
				if got := files(t, old.MaildirIn("example.com", "alice")); len(got) != 0 {
					t.Errorf("the old server got mail: %v", got)
				}
			})
		}
	}
	// A domain with no such name fails at once.
	cfg := f.config(map[string]cty.Value{"server": cty.NilVal, "resolver": cty.StringVal(n.Server()), "recipient": cty.StringVal("alice@nowhere.example.com"), "deliver": cty.False})
	log, _ := newLog(t)
	if _, err := f.check(cfg, log); err == nil || !strings.Contains(err.Error(), "NXDOMAIN") {
		t.Errorf("probe to a missing domain: %v", err)
	}
}

// TestProbeSuite: the conformance suite, the probe found in a Maildir
// through a host whose every operation fails in turn, and over IMAP.
func TestProbeSuite(t *testing.T) {
	t.Parallel()
	pf, dc := newServer(t, "127.0.0.39")
	faults := resourcetest.NewFaults()
	p := smtpprobe.New(faults.Getter(resourcetest.Pool(t)), nil)
	maildir := pf.MaildirIn("example.org", "alice")
	observe := func(t testing.TB) []byte {
		return fmt.Appendf(nil, "maildir: %q\nbob: %q\nqueue empty: %v\n", files(t, maildir), files(t, pf.MaildirIn("example.org", "bob")), pf.QueueEmpty(t))
	}
	t.Run("maildir", func(t *testing.T) {
		resourcetest.Conformance(t, resourcetest.Suite{
			Type: p,
			Create: resourcetest.Config(t, p, map[string]cty.Value{"recipient": cty.StringVal("alice@example.org"), "server": cty.StringVal(pf.SMTPAddr()),
				"host": resourcetest.HostValue(t, localHost), "maildir": cty.StringVal(maildir), "timeout": cty.StringVal("5s"), "interval": cty.StringVal("50ms")}),
			Observe: observe,
			Faults:  faults,
		})
	})
	t.Run("imap", func(t *testing.T) {
		resourcetest.Conformance(t, resourcetest.Suite{
			Type: p,
			Create: resourcetest.Config(t, p, map[string]cty.Value{"recipient": cty.StringVal("bob@example.org"), "server": cty.StringVal(pf.SMTPAddr()),
				"imap":    cty.MapVal(map[string]cty.Value{"address": cty.StringVal(dc.IMAPAddr()), "username": cty.StringVal("bob@example.org"), "password": cty.StringVal(dc.Password)}),
				"timeout": cty.StringVal("5s"), "interval": cty.StringVal("50ms")}),
			Observe: observe,
		})
	})
}
