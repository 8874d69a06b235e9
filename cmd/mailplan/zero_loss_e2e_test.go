package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/testbed"
	"github.com/mailplan/mailplan/resources/transport/dnsclient"
)

// The zero-loss tests apply plans/examples/full-migration to the loopback
// test bed (mailplan-testbed up, as `make demo` does) while a sender
// submits mail to the domain without pause, as the sending servers of the
// world would: it looks up the MX and the exchange's address in the test
// bed's BIND, keeping each answer for its TTL like a caching resolver,
// connects to that address, and retries temporary failures (4xx, refused
// connections). At the end every message must be in its recipient's
// Maildir exactly once.

// zeroLossRate is how many messages a second the sender submits.
const zeroLossRate = 20

// TestZeroLossMigration: the whole migration under load. Every message is
// on the new server exactly once, in the right mailbox; the old mail is
// there over IMAP with the old UIDVALIDITY; MX answers the new server.
func TestZeroLossMigration(t *testing.T) {
	bed := startTestBedCLI(t)
	seeded := bed.seed(t)
	oldINBOX, err := testbed.IMAPSelectAt(bed.env["OLD_IMAP_ADDR"]+":"+bed.env["OLD_IMAP_PORT"], "alice", bed.env["IMAP_PASSWORD"], "INBOX")
	if err != nil {
		t.Fatalf("IMAP on the old server before the move: %v", err)
	}

	s := bed.newSender(t)
	s.start()
	time.Sleep(time.Second) // mail for the old server first
	start := time.Now()
	code, out, errs := runCLI(t, bed.planDir, "apply", "-auto-approve", "-var-file="+bed.varFile)
	applyTime := time.Since(start)
	if code != 0 {
		s.stop(t)
		t.Fatalf("apply: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	time.Sleep(2 * time.Second) // and for the new one after
	s.stop(t)

	bed.checkMX(t, "new", "after the move")
	// The last step "shut the old machine down": on the test bed, a mark.
	shutdown := filepath.Join(bed.env["TESTBED_DIR"], "old-server-shut-down")
	if _, err := os.Stat(shutdown); err != nil {
		t.Errorf("the old server's shutdown command did not run: %v", err)
	}
	for _, want := range []string{"dns_check.mx_visible", "smtp_probe.lands_on_new", "command.old_shutdown[0]"} {
		if !strings.Contains(out, want) {
			t.Errorf("the apply output does not mention %s", want)
		}
	}
	bed.waitQueueEmpty(t, "NEW")
	got := bed.delivered(t, "NEW")
	r := s.report(t, got)
	t.Logf("zero-loss migration: %d messages sent (%.1f/s; %d accepted by the old server, %d by the new), %d delivered to the new server, %d lost, %d duplicated, %d to the wrong mailbox; longest deferral %s (%d messages deferred); apply took %s",
		r.sent, r.rate, s.byServer[bed.env["OLD_ADDR"]], s.byServer[bed.env["NEW_ADDR"]], r.delivered, r.lost, r.duplicated, r.misplaced, r.maxDeferral.Round(time.Millisecond), r.deferred, applyTime.Round(time.Millisecond))
	fmt.Fprintf(os.Stderr, "ZERO-LOSS migration: sent=%d rate=%.1f/s via_old=%d via_new=%d delivered=%d lost=%d duplicated=%d misplaced=%d max_deferral=%s deferred=%d apply=%s\n",
		r.sent, r.rate, s.byServer[bed.env["OLD_ADDR"]], s.byServer[bed.env["NEW_ADDR"]], r.delivered, r.lost, r.duplicated, r.misplaced, r.maxDeferral.Round(time.Millisecond), r.deferred, applyTime.Round(time.Millisecond))

	// The old mail, over IMAP on the new server, with the same UIDs.
	newINBOX, err := testbed.IMAPSelectAt(bed.env["NEW_IMAP_ADDR"]+":"+bed.env["NEW_IMAP_PORT"], "alice", bed.env["IMAP_PASSWORD"], "INBOX")
	if err != nil {
		t.Fatalf("IMAP on the new server after the move: %v", err)
	}
	if newINBOX.UIDValidity != oldINBOX.UIDValidity {
		t.Errorf("UIDVALIDITY %d on the new server, %d on the old", newINBOX.UIDValidity, oldINBOX.UIDValidity)
	}
	oldUIDs := map[string]uint32{}
	for _, m := range oldINBOX.Messages {
		oldUIDs[m.GUID] = m.UID
	}
	for _, m := range newINBOX.Messages {
		if uid, ok := oldUIDs[m.GUID]; ok && uid != m.UID {
			t.Errorf("message %s: UID %d on the new server, %d on the old", m.GUID, m.UID, uid)
		}
		delete(oldUIDs, m.GUID)
	}
	if len(oldUIDs) > 0 || len(oldINBOX.Messages) < seeded["alice@"+bed.env["DOMAIN"]] {
		t.Errorf("old messages missing over IMAP on the new server: %v (old INBOX had %d)", oldUIDs, len(oldINBOX.Messages))
	}

	// alice deletes an old message on the new server. A re-plan changes
	// nothing but the pending TTL raises: the copies are done (once), so
	// nothing is copied back from the old server.
	alice := "alice@" + bed.env["DOMAIN"]
	cur, _ := filepath.Glob(filepath.Join(bed.maildir("NEW", alice), "cur", "*"))
	fresh, _ := filepath.Glob(filepath.Join(bed.maildir("NEW", alice), "new", "*"))
	if victims := append(cur, fresh...); len(victims) > 0 {
		if err := os.Remove(victims[0]); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errs = runCLI(t, bed.planDir, "plan", "-detailed-exitcode", "-var-file="+bed.varFile)
	if code == 1 || strings.Contains(out, "mailbox_copy") {
		t.Errorf("plan after the move: exit %d, want no mailbox_copy change\n%s\n%s", code, out, errs)
	}

	// Without the variables the rollback cannot sign DNS updates, and
	// says what to do; with them it undoes the whole move.
	code, out, errs = runCLI(t, bed.planDir, "rollback", "-auto-approve")
	if code != 1 || !strings.Contains(strings.Join(strings.Fields(out+errs), " "), "same -var, -var-file and MAILPLAN_VAR_") {
		t.Errorf("rollback without variables: exit %d, want 1 with the hint\n%s\n%s", code, out, errs)
	}
	code, out, errs = runCLI(t, bed.planDir, "rollback", "-auto-approve", "-force", "-var-file="+bed.varFile)
	if code != 0 {
		t.Fatalf("rollback: exit %d\n%s\n%s", code, out, errs)
	}
	bed.checkMX(t, "old", "after the rollback")
	if _, err := os.Stat(shutdown); err == nil {
		t.Error("the old server's shutdown was not undone by the rollback")
	}
	if _, err := testbed.IMAPSelectAt(bed.env["OLD_IMAP_ADDR"]+":"+bed.env["OLD_IMAP_PORT"], "alice", bed.env["IMAP_PASSWORD"], "INBOX"); err != nil {
		t.Errorf("IMAP on the old server after the rollback: %v", err)
	}
	if _, err := testbed.IMAPSelectAt(bed.env["NEW_IMAP_ADDR"]+":"+bed.env["NEW_IMAP_PORT"], "alice", bed.env["IMAP_PASSWORD"], "INBOX"); err == nil {
		t.Error("IMAP on the new server still serves after the rollback")
	}
	if tm := bed.postconf(t, "OLD", "transport_maps"); strings.Contains(tm, "relay") {
		t.Errorf("transport_maps after the rollback: %q", tm)
	}
	if out, err := exec.Command(testbed.RequireSbin(t, "postfix"), "-c", bed.env["OLD_CONFIG_DIR"], "status").CombinedOutput(); err != nil {
		t.Errorf("old Postfix not running after the rollback: %v %s", err, out)
	}
	// The copies are gone from the new server; what was delivered there
	// directly stays (nothing is lost), and no message is on both.
	onNew := bed.delivered(t, "NEW")
	for id := range bed.delivered(t, "OLD") {
		if len(onNew[id]) > 0 {
			t.Errorf("%s is on both servers after the rollback", id)
		}
	}
	if n := bed.countMaildir(t, "NEW", alice); n > r.delivered {
		t.Errorf("alice has %d messages on the new server after the rollback", n)
	}
}

// TestZeroLossRollback: the new server's Postfix stops half way through
// the apply, as the DNS cutover starts. Senders that follow the new MX are
// refused and retry; the relay's check finds the new Postfix down, the
// apply fails and rolls back (MX back to the old server), and still every
// message is delivered exactly once, on the old server.
func TestZeroLossRollback(t *testing.T) {
	bed := startTestBedCLI(t)
	bed.seed(t)

	s := bed.newSender(t)
	s.start()
	time.Sleep(time.Second)

	// Stop the new Postfix as soon as the MX TTL is lowered, the first
	// step of the DNS cutover.
	stopped := make(chan time.Time, 1)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	zone := bed.env["DOMAIN"] + "."
	postfix := testbed.RequireSbin(t, "postfix")
	go func() {
		for ctx.Err() == nil {
			if rr, err := s.dns.client.Read(ctx, zone, zone, "MX"); err == nil && rr.TTL <= 1 {
				if err := exec.Command(postfix, "-c", bed.env["NEW_CONFIG_DIR"], "stop").Run(); err != nil {
					t.Errorf("postfix stop (new): %v", err)
				}
				stopped <- time.Now()
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()

	start := time.Now()
	code, out, errs := runCLI(t, bed.planDir, "apply", "-auto-approve", "-var-file="+bed.varFile, "-var", "drain_timeout=15s")
	applyTime := time.Since(start)
	cancel()
	var stopAt time.Time
	select {
	case stopAt = <-stopped:
	default:
		s.stop(t)
		t.Fatalf("the MX TTL was never lowered; apply exit %d\n%s\n%s", code, out, errs)
	}
	if code != 1 || !strings.Contains(out+errs, "postfix_map.relay") || !strings.Contains(out+errs, "before_apply") {
		s.stop(t)
		t.Fatalf("apply with the new server down: exit %d, want 1 with the relay's check failing\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	t.Logf("apply output:\n%s\n%s", out, errs)
	time.Sleep(2 * time.Second) // the old server takes the mail again
	s.stop(t)

	bed.checkMX(t, "old", "after the rollback")
	if tm := bed.postconf(t, "OLD", "transport_maps"); strings.Contains(tm, "relay") {
		t.Errorf("transport_maps after the rollback: %q", tm)
	}
	// What the old server deferred for the new one is delivered locally;
	// what the new one had queued when it stopped goes out once it runs
	// again, as an admin would start it.
	bed.waitQueueEmpty(t, "OLD")
	if err := exec.Command(postfix, "-c", bed.env["NEW_CONFIG_DIR"], "start").Run(); err != nil {
		t.Fatalf("postfix start (new): %v", err)
	}
	bed.waitQueueEmpty(t, "NEW")
	got := bed.delivered(t, "OLD")
	for id, users := range bed.delivered(t, "NEW") {
		got[id] = append(got[id], users...)
	}
	r := s.report(t, got)
	t.Logf("zero-loss rollback: %d messages sent (%.1f/s), %d delivered, %d lost, %d duplicated, %d misplaced; longest deferral %s (%d deferred); new Postfix stopped %s into the apply, which failed and rolled back after %s",
		r.sent, r.rate, r.delivered, r.lost, r.duplicated, r.misplaced, r.maxDeferral.Round(time.Millisecond), r.deferred, stopAt.Sub(start).Round(time.Millisecond), applyTime.Round(time.Millisecond))
	fmt.Fprintf(os.Stderr, "ZERO-LOSS rollback: via_old=%d via_new=%d\n", s.byServer[bed.env["OLD_ADDR"]], s.byServer[bed.env["NEW_ADDR"]])
	fmt.Fprintf(os.Stderr, "ZERO-LOSS rollback: sent=%d rate=%.1f/s delivered=%d lost=%d duplicated=%d misplaced=%d max_deferral=%s deferred=%d stop_after=%s apply=%s\n",
		r.sent, r.rate, r.delivered, r.lost, r.duplicated, r.misplaced, r.maxDeferral.Round(time.Millisecond), r.deferred, stopAt.Sub(start).Round(time.Millisecond), applyTime.Round(time.Millisecond))
}

// cliBed is a test bed started with the mailplan-testbed command, and a
// copy of plans/ to apply full-migration from.
type cliBed struct {
	env     map[string]string
	users   []string
	planDir string
	varFile string
}

// startTestBedCLI builds mailplan-testbed, starts the test bed with zone
// TTLs of 3 s, and stops it when the test ends.
func startTestBedCLI(t *testing.T) *cliBed {
	t.Helper()
	return startTestBedCLITTL(t, 3)
}

// startTestBedCLITTL is startTestBedCLI with zone TTLs of ttl seconds.
func startTestBedCLITTL(t *testing.T, ttl int) *cliBed {
	t.Helper()
	if err := errors.Join(testbed.CheckAvailable(), testbed.CheckNamedAvailable(), testbed.CheckDovecotAvailable()); err != nil {
		if testbed.Strict() {
			t.Fatalf("the zero-loss test needs the whole test bed: %v", err)
		}
		t.Skip(err)
	}
	testbed.Require(t, "swaks")
	work := testbed.SearchableTempDir(t)
	bin := filepath.Join(work, "mailplan-testbed")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/mailplan/mailplan/cmd/mailplan-testbed").CombinedOutput(); err != nil {
		t.Fatalf("go build mailplan-testbed: %v\n%s", err, out)
	}
	dir := filepath.Join(work, "bed")
	if out, err := exec.Command(bin, "up", "-dir", dir, "-detach", "-ttl", strconv.Itoa(ttl)).CombinedOutput(); err != nil {
		t.Fatalf("mailplan-testbed up: %v\n%s", err, out)
	}
	b := &cliBed{env: map[string]string{}}
	t.Cleanup(func() {
		if t.Failed() {
			for _, log := range []string{"OLD_LOG", "NEW_LOG"} {
				t.Logf("%s (%s):\n%s", log, b.env[log], testbed.TailFile(b.env[log], 40))
			}
		}
		if out, err := exec.Command(bin, "down", "-dir", dir).CombinedOutput(); err != nil {
			t.Errorf("mailplan-testbed down: %v\n%s", err, out)
		}
	})
	f, err := os.Open(filepath.Join(dir, "testbed.env"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		if len(v) >= 2 && strings.HasPrefix(v, "'") && strings.HasSuffix(v, "'") {
			v = strings.ReplaceAll(v[1:len(v)-1], `'\''`, "'")
		}
		b.env[k] = v
	}
	// Every address of every domain the test bed serves.
	for _, d := range strings.Fields(b.env["DOMAINS"]) {
		for _, u := range strings.Fields(b.env["USERS"]) {
			b.users = append(b.users, u+"@"+d)
		}
	}
	if len(b.users) == 0 {
		t.Fatal("testbed.env names no DOMAINS or USERS")
	}
	b.varFile = filepath.Join(dir, "full-migration.vars.hcl")
	secret, err := os.ReadFile(b.env["TSIG_SECRET_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("MAILPLAN_VAR_tsig_secret", strings.TrimSpace(string(secret)))
	wd, _ := os.Getwd()
	t.Cleanup(func() { os.Chdir(wd) })
	copyTree(t, filepath.Join(wd, "..", "..", "plans"), filepath.Join(work, "plans"))
	b.planDir = filepath.Join(work, "plans", "examples", "full-migration")
	return b
}

// seed sends three messages to each user through the old server and waits
// until they are in the Maildirs.
func (b *cliBed) seed(t *testing.T) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, u := range b.users {
		for i := range 3 {
			if out, err := testbed.Swaks(t, b.env["OLD_SMTP"], "news@example.net", u,
				map[string]string{"Subject": fmt.Sprintf("before the move (%s, %d)", u, i)}, "old mail\n"); err != nil {
				t.Fatalf("seed: %v\n%s", err, out)
			}
			n[u]++
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, u := range b.users {
		for b.countMaildir(t, "OLD", u) < n[u] {
			if time.Now().After(deadline) {
				t.Fatalf("seed mail for %s not delivered on the old server", u)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return n
}

// maildir is the Maildir of address (local@domain) on side.
func (b *cliBed) maildir(side, address string) string {
	local, domain, _ := strings.Cut(address, "@")
	return filepath.Join(b.env[side+"_MAILDIR"], domain, local)
}

func (b *cliBed) countMaildir(t *testing.T, side, user string) int {
	n := 0
	for _, sub := range []string{"new", "cur"} {
		es, err := os.ReadDir(filepath.Join(b.maildir(side, user), sub))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		n += len(es)
	}
	return n
}

// delivered maps each X-Zero-Loss-Id found in side's Maildirs to the users
// whose Maildirs hold it, once per copy.
func (b *cliBed) delivered(t *testing.T, side string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, u := range b.users {
		for _, sub := range []string{"new", "cur"} {
			dir := filepath.Join(b.maildir(side, u), sub)
			es, err := os.ReadDir(dir)
			if err != nil {
				if os.IsNotExist(err) {
					continue
				}
				t.Fatal(err)
			}
			for _, e := range es {
				if id := zeroLossID(t, filepath.Join(dir, e.Name())); id != "" {
					out[id] = append(out[id], u)
				}
			}
		}
	}
	return out
}

// waitQueueEmpty waits until side's Postfix queue holds no message.
func (b *cliBed) waitQueueEmpty(t *testing.T, side string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		n := 0
		for _, q := range []string{"incoming", "active", "deferred", "hold", "maildrop"} {
			filepath.WalkDir(filepath.Join(b.env[side+"_QUEUE_DIR"], q), func(_ string, d os.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					n++
				}
				return nil
			})
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			out, _ := exec.Command(testbed.RequireSbin(t, "postqueue"), "-c", b.env[side+"_CONFIG_DIR"], "-p").CombinedOutput()
			t.Fatalf("%s Postfix still has %d queued messages:\n%s", side, n, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (b *cliBed) postconf(t *testing.T, side, param string) string {
	t.Helper()
	out, err := exec.Command(testbed.RequireSbin(t, "postconf"), "-c", b.env[side+"_CONFIG_DIR"], "-h", param).Output()
	if err != nil {
		t.Fatalf("postconf %s: %v", param, err)
	}
	return strings.TrimSpace(string(out))
}

// checkMX checks that every domain's MX, read from the test bed's BIND
// (no cache), is mail.SIDE.DOMAIN.
func (b *cliBed) checkMX(t *testing.T, side, when string) {
	t.Helper()
	client := newTTLCache(t, b).client
	for _, d := range strings.Fields(b.env["DOMAINS"]) {
		rr, err := client.Read(t.Context(), d+".", d+".", "MX")
		if err != nil {
			t.Fatalf("MX of %s %s: %v", d, when, err)
		}
		if len(rr.Records) != 1 || rr.Records[0] != "10 mail."+side+"."+d+"." {
			t.Errorf("MX of %s %s: %q", d, when, rr.Records)
		}
	}
}

// zeroLossHeader carries each message's unique id.
const zeroLossHeader = "X-Zero-Loss-Id"

// zlMessage is one message the sender is responsible for until a server
// accepted it.
type zlMessage struct {
	id, user    string
	first, done time.Time
	attempts    int
	next        time.Time
}

// sender submits zeroLossRate messages a second, round robin over the
// users, each through the MX it resolves right then, retrying temporary
// failures every 250 ms like an MTA with a very short backoff.
type sender struct {
	t        *testing.T
	b        *cliBed
	dns      *ttlCache
	ports    map[string]string // server address -> its SMTP port in the test bed
	byServer map[string]int    // server address -> messages it accepted

	mu      sync.Mutex
	all     []*zlMessage
	bounced []string
	pending chan *zlMessage
	stopGen chan struct{}
	genDone chan struct{}
	wg      sync.WaitGroup
	began   time.Time
	ended   time.Time
	quit    chan struct{}
}

func (b *cliBed) newSender(t *testing.T) *sender {
	return &sender{
		t: t, b: b, dns: newTTLCache(t, b),
		ports:    map[string]string{b.env["OLD_ADDR"]: b.env["OLD_PORT"], b.env["NEW_ADDR"]: b.env["NEW_PORT"]},
		byServer: map[string]int{},
		pending:  make(chan *zlMessage, 100000),
		stopGen:  make(chan struct{}),
		genDone:  make(chan struct{}),
		quit:     make(chan struct{}),
	}
}

func (s *sender) start() {
	s.began = time.Now()
	go func() {
		defer close(s.genDone)
		tick := time.NewTicker(time.Second / zeroLossRate)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-s.stopGen:
				return
			case <-tick.C:
			}
			m := &zlMessage{id: fmt.Sprintf("zl-%06d", n), user: s.b.users[n%len(s.b.users)], first: time.Now()}
			s.mu.Lock()
			s.all = append(s.all, m)
			s.mu.Unlock()
			s.pending <- m
		}
	}()
	for range 8 {
		s.wg.Add(1)
		go s.worker()
	}
}

func (s *sender) worker() {
	defer s.wg.Done()
	for {
		var m *zlMessage
		select {
		case <-s.quit:
			return
		case m = <-s.pending:
		}
		if d := time.Until(m.next); d > 0 {
			time.Sleep(d)
		}
		m.attempts++
		err := s.deliver(m)
		switch {
		case err == nil:
			m.done = time.Now()
		case isPermanent(err):
			s.mu.Lock()
			s.bounced = append(s.bounced, fmt.Sprintf("%s: %v", m.id, err))
			s.mu.Unlock()
			m.done = time.Now()
		default:
			m.next = time.Now().Add(250 * time.Millisecond)
			s.pending <- m
		}
	}
}

func isPermanent(err error) bool {
	var te *textproto.Error
	return errors.As(err, &te) && te.Code >= 500
}

// deliver resolves the MX and hands m to the first exchange that takes it.
func (s *sender) deliver(m *zlMessage) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, domain, _ := strings.Cut(m.user, "@")
	rrs, err := s.dns.lookup(ctx, domain+".", "MX")
	if err != nil {
		return err
	}
	type mx struct {
		pref int
		host string
	}
	var mxs []mx
	for _, r := range rrs {
		var m mx
		if _, err := fmt.Sscanf(r, "%d %s", &m.pref, &m.host); err != nil {
			return fmt.Errorf("MX %q: %v", r, err)
		}
		mxs = append(mxs, m)
	}
	sort.Slice(mxs, func(i, j int) bool { return mxs[i].pref < mxs[j].pref })
	var last error = errors.New("no MX")
	for _, x := range mxs {
		addrs, err := s.dns.lookup(ctx, x.host, "A")
		if err != nil {
			last = err
			continue
		}
		for _, a := range addrs {
			port, ok := s.ports[a]
			if !ok {
				last = fmt.Errorf("MX %s resolves to %s, not a test bed server", x.host, a)
				continue
			}
			if last = s.submit(net.JoinHostPort(a, port), m); last == nil {
				s.mu.Lock()
				s.byServer[a]++
				s.mu.Unlock()
			}
			if last == nil || isPermanent(last) {
				return last
			}
		}
	}
	return last
}

func (s *sender) submit(addr string, m *zlMessage) error {
	conn, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return err
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	c, err := smtp.NewClient(conn, addr)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	to := m.user
	if err := c.Hello("sender.test"); err != nil {
		return err
	}
	if err := c.Mail("loadtest@example.org"); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "From: loadtest@example.org\r\nTo: %s\r\nSubject: zero-loss %s\r\nMessage-ID: <%s@sender.test>\r\n%s: %s\r\n\r\nmessage %s for %s\r\n",
		to, m.id, m.id, zeroLossHeader, m.id, m.id, m.user)
	if err := w.Close(); err != nil {
		return err
	}
	// The 250 after the data is the acceptance, as for any MTA: a QUIT
	// that fails afterwards (the server stopping) must not make the
	// message be sent again.
	_ = c.Quit()
	return nil
}

// stop ends the generator, then waits until every message was accepted
// somewhere (or bounced), for at most 90 s.
func (s *sender) stop(t *testing.T) {
	t.Helper()
	close(s.stopGen)
	<-s.genDone
	s.ended = time.Now()
	deadline := time.Now().Add(90 * time.Second)
	for {
		s.mu.Lock()
		open := 0
		for _, m := range s.all {
			if m.done.IsZero() {
				open++
			}
		}
		s.mu.Unlock()
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			close(s.quit)
			t.Fatalf("%d messages still not accepted by any server after 90 s", open)
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(s.quit)
	s.wg.Wait()
}

// ttlCache answers from the test bed's BIND and keeps each answer for
// its TTL, as the caching resolver of a sending server does.
type ttlCache struct {
	client *dnsclient.Client
	zones  []string
	mu     sync.Mutex
	cached map[string]ttlEntry
}

type ttlEntry struct {
	records []string
	expires time.Time
}

func newTTLCache(t *testing.T, b *cliBed) *ttlCache {
	c, err := dnsclient.New(resource.DNSServer{Name: "sender", Address: b.env["DNS_ADDR"] + ":" + b.env["DNS_PORT"]}, hclog.NewNullLogger(), dnsclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tc := &ttlCache{client: c, cached: map[string]ttlEntry{}}
	for _, d := range strings.Fields(b.env["DOMAINS"]) {
		tc.zones = append(tc.zones, d+".")
	}
	return tc
}

func (c *ttlCache) lookup(ctx context.Context, name, rtype string) ([]string, error) {
	key := name + " " + rtype
	c.mu.Lock()
	e, ok := c.cached[key]
	c.mu.Unlock()
	if ok && time.Now().Before(e.expires) {
		return e.records, nil
	}
	zone := ""
	for _, z := range c.zones {
		if name == z || strings.HasSuffix(name, "."+z) {
			zone = z
		}
	}
	if zone == "" {
		return nil, fmt.Errorf("%s is in none of the test bed's zones %v", name, c.zones)
	}
	rr, err := c.client.Read(ctx, zone, name, rtype)
	if err != nil {
		return nil, err
	}
	if !rr.Exists() {
		return nil, fmt.Errorf("no %s records at %s", rtype, name)
	}
	c.mu.Lock()
	c.cached[key] = ttlEntry{records: rr.Records, expires: time.Now().Add(time.Duration(rr.TTL) * time.Second)}
	c.mu.Unlock()
	return rr.Records, nil
}

type zlReport struct {
	sent, delivered, lost, duplicated, misplaced, deferred int
	rate                                                   float64
	maxDeferral                                            time.Duration
}

// report checks got (id -> users holding a copy) against what was sent:
// every message exactly once, in its recipient's Maildir.
func (s *sender) report(t *testing.T, got map[string][]string) zlReport {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := zlReport{sent: len(s.all)}
	r.rate = float64(r.sent) / s.ended.Sub(s.began).Seconds()
	for _, m := range s.all {
		if m.attempts > 1 {
			r.deferred++
			r.maxDeferral = max(r.maxDeferral, m.done.Sub(m.first))
		}
		users := got[m.id]
		switch {
		case len(users) == 0:
			r.lost++
			t.Errorf("%s for %s: lost (%d attempts)", m.id, m.user, m.attempts)
		case len(users) > 1:
			r.duplicated++
			t.Errorf("%s for %s: %d copies, in %v", m.id, m.user, len(users), users)
		default:
			r.delivered++
		}
		if len(users) >= 1 && users[0] != m.user {
			r.misplaced++
			t.Errorf("%s for %s: delivered to %s", m.id, m.user, users[0])
		}
		delete(got, m.id)
	}
	for _, b := range s.bounced {
		t.Errorf("bounced: %s", b)
	}
	for id := range got {
		t.Errorf("%s delivered but never sent", id)
	}
	if r.rate < 10 {
		t.Errorf("the sender managed %.1f messages a second, want at least 10", r.rate)
	}
	return r
}

// zeroLossID is the zero-loss sender's id in the headers of the message
// at path, "" when it has none.
func zeroLossID(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	head, _, _ := bytes.Cut(data, []byte("\n\n"))
	for _, line := range strings.Split(string(head), "\n") {
		if id, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), zeroLossHeader+": "); ok {
			return id
		}
	}
	return ""
}
