package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailplan/mailplan/resources/testbed"
)

// TestDeadNewServer: going back when the new server is dead (issue 10,
// item 1). plans/examples/full-migration is applied to the test bed with
// the zero-loss sender running; then the new server dies (its Postfix and
// its Dovecot stop, see deadKill), and the operator goes back with
// `mailplan destroy` or `mailplan rollback`. Either must exit 0 and leave
// what an operator checks: the MX at the old server, the relay gone from
// the old server's transport_maps, the old Postfix and IMAP running, new
// mail delivered at the old server. The sender keeps going throughout:
// what it sends while the MX points at the dead server waits at the
// sender and goes to the old server once the MX is back there, and every
// message is delivered exactly once.
//
// Before aca4441 the destroy ran the relay's before_apply check (on the
// dead new server), failed, and "rolled back" what it had already taken
// back: the MX at the dead server again, the old Postfix stopped again.
func TestDeadNewServer(t *testing.T) {
	for _, way := range []string{"destroy", "rollback"} {
		t.Run(way, func(t *testing.T) { deadGoBack(t, way) })
	}
}

// deadGoBack applies the migration under load, kills the new server and
// goes back with way ("destroy" or "rollback").
func deadGoBack(t *testing.T, way string) {
	bed := startTestBedCLI(t)
	bed.seed(t)
	postfix := testbed.RequireSbin(t, "postfix")

	s := bed.newSender(t)
	s.start()
	stopping := false
	t.Cleanup(func() {
		if !stopping {
			deadAbandon(s)
		}
	})
	time.Sleep(time.Second) // mail for the old server first
	start := time.Now()
	code, out, errs := runCLI(t, bed.planDir, "apply", "-auto-approve", "-var-file="+bed.varFile)
	applyTime := time.Since(start)
	if code != 0 {
		t.Fatalf("apply: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	time.Sleep(2 * time.Second) // and for the new one after

	deadAt := deadKill(t, bed)
	// The sender is refused by the dead server meanwhile and retries: the
	// old Postfix was stopped by the apply's last step.
	time.Sleep(2 * time.Second)

	backAt := time.Now()
	code, out, errs = runCLI(t, bed.planDir, way, "-auto-approve", "-var-file="+bed.varFile)
	backTime := time.Since(backAt)
	if code != 0 {
		t.Fatalf("%s with the new server dead: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", way, code, out, errs)
	}
	t.Logf("%s output:\n%s%s", way, out, errs)
	time.Sleep(2 * time.Second) // the old server takes the mail again
	stopping = true
	s.stop(t)

	// What an operator checks.
	when := "after the " + way
	bed.checkMX(t, "old", when)
	tm := bed.postconf(t, "OLD", "transport_maps")
	for _, d := range strings.Fields(bed.env["DOMAINS"]) {
		if table := filepath.Join(bed.env["OLD_CONFIG_DIR"], "migration", d+"-relay"); strings.Contains(tm, table) {
			t.Errorf("transport_maps %s still lists %s: %q", when, table, tm)
		}
	}
	if out, err := exec.Command(postfix, "-c", bed.env["OLD_CONFIG_DIR"], "status").CombinedOutput(); err != nil {
		t.Errorf("old Postfix not running %s: %v %s", when, err, out)
	}
	oldIMAP := bed.env["OLD_IMAP_ADDR"] + ":" + bed.env["OLD_IMAP_PORT"]
	if err := testbed.IMAPGreeting(oldIMAP); err != nil {
		t.Errorf("old IMAP %s: %v", when, err)
	} else if _, err := testbed.IMAPSelectAt(oldIMAP, "alice", bed.env["IMAP_PASSWORD"], "INBOX"); err != nil {
		t.Errorf("alice's INBOX on the old server %s: %v", when, err)
	}
	for _, d := range strings.Fields(bed.env["DOMAINS"]) {
		deadProbe(t, bed, "alice@"+d, "sent "+when)
	}

	// Zero loss. The old queue drains first (what it deferred for the dead
	// server is delivered locally now that the relay is gone). Then the
	// new Postfix is started again, as an admin brings a dead server back,
	// so that what it had accepted but not delivered when it died goes
	// into its Maildirs: a message counts as delivered once it is in a
	// Maildir, not while it sits in a stopped server's queue (deadKill let
	// the queue empty, so nothing should be left there). Nothing of this
	// is asserted above: the old server was checked with the new one dead.
	bed.waitQueueEmpty(t, "OLD")
	if out, err := exec.Command(postfix, "-c", bed.env["NEW_CONFIG_DIR"], "start").CombinedOutput(); err != nil {
		t.Fatalf("postfix start (new): %v\n%s", err, out)
	}
	bed.waitQueueEmpty(t, "NEW")
	onOld, onNew := bed.delivered(t, "OLD"), bed.delivered(t, "NEW")
	// A message the old server delivered and a mailbox_copy copied to the
	// new one is one delivery in two places, not a duplicate: destroy
	// keeps the copies (mailbox_copy never deletes on destroy), rollback
	// removes them.
	copies := deadCopies(t, bed)
	if way == "rollback" && len(copies) > 0 {
		t.Errorf("%d messages are on both servers after the rollback (the copies must be gone from the new one)", len(copies))
	}
	got := map[string][]string{}
	for id, users := range onOld {
		got[id] = append(got[id], users...)
	}
	viaNew := 0
	for id, users := range onNew {
		users = deadWithout(users, copies[id])
		if len(users) > 0 && len(onOld[id]) == 0 {
			viaNew++
		}
		got[id] = append(got[id], users...)
	}
	for id, users := range got {
		if len(users) > 1 {
			t.Logf("%s: %d deliveries at the old server, %d at the new (%d mailbox_copy copies there not counted)", id, len(onOld[id]), len(onNew[id]), len(copies[id]))
		}
	}
	r := s.report(t, got)
	t.Logf("dead new server, %s: %d messages sent (%.1f/s; %d accepted by the old server, %d by the new), %d delivered (%d only at the new server, %d at the old with a copy at the new), %d lost, %d duplicated, %d misplaced; longest deferral %s (%d deferred); apply %s, new server dead %s before the %s, which took %s",
		way, r.sent, r.rate, s.byServer[bed.env["OLD_ADDR"]], s.byServer[bed.env["NEW_ADDR"]], r.delivered, viaNew, len(copies), r.lost, r.duplicated, r.misplaced,
		r.maxDeferral.Round(time.Millisecond), r.deferred, applyTime.Round(time.Millisecond), backAt.Sub(deadAt).Round(time.Millisecond), way, backTime.Round(time.Millisecond))
	fmt.Fprintf(os.Stderr, "ZERO-LOSS dead-new %s: sent=%d rate=%.1f/s via_old=%d via_new=%d delivered=%d only_new=%d copied=%d lost=%d duplicated=%d misplaced=%d max_deferral=%s deferred=%d apply=%s dead_before=%s %s=%s\n",
		way, r.sent, r.rate, s.byServer[bed.env["OLD_ADDR"]], s.byServer[bed.env["NEW_ADDR"]], r.delivered, viaNew, len(copies), r.lost, r.duplicated, r.misplaced,
		r.maxDeferral.Round(time.Millisecond), r.deferred, applyTime.Round(time.Millisecond), backAt.Sub(deadAt).Round(time.Millisecond), way, backTime.Round(time.Millisecond))
}

// deadAbandon stops the sender without waiting for its open messages (a
// test that fails half way may have no server left to take them), so that
// it sends nothing to the next test bed.
func deadAbandon(s *sender) {
	close(s.stopGen)
	<-s.genDone
	close(s.quit)
	s.wg.Wait()
}

// deadKill makes the new server die, for senders first, and returns when
// that was: it defers every new SMTP session, then its SMTP listener is
// closed (the service commented out in master.cf, which kills its smtpd
// processes: by then none accepts mail); once no session is open and its
// queue is empty, its Postfix and its Dovecot are stopped and master.cf is
// put back as it was. Its sshd (the old server's
// too, on the test bed) stays up, as on a host whose mail services died.
//
// Why not stop Postfix in the middle of the load: a crash in the middle
// of a session can duplicate a message whatever a plan does. The server
// queues it and dies before its 250 reaches the sender, which sends it
// again (RFC 1047); or Postfix dies between a delivery and recording it,
// and delivers it again when it starts. Both happen on this test bed when
// the new Postfix is stopped under this load, and taking the service out
// of master.cf does the first (Postfix's master SIGTERMs the service's
// processes). That is SMTP's doing, not the way back's, which is what
// this test measures.
func deadKill(t *testing.T, bed *cliBed) time.Time {
	t.Helper()
	dir := bed.env["NEW_CONFIG_DIR"]
	smtp := net.JoinHostPort(bed.env["NEW_ADDR"], bed.env["NEW_PORT"])
	masterCF := filepath.Join(dir, "master.cf")
	saved, err := os.ReadFile(masterCF)
	if err != nil {
		t.Fatal(err)
	}
	postfix := testbed.RequireSbin(t, "postfix")
	run := func(bin string, args ...string) {
		t.Helper()
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
		}
	}
	// First every new session is deferred (450 at RCPT TO, nothing
	// queued), and the smtpd processes started before that finish their
	// session and exit: a reload lets them. Only then is the service
	// taken out of master.cf, which kills its processes (SIGTERM, in the
	// middle of a session): by then none of them accepts mail.
	postconf := testbed.RequireSbin(t, "postconf")
	const deferAll = "smtpd_client_restrictions=defer"
	run(postconf, "-c", dir, "-P", smtp+"/inet/"+deferAll)
	run(postfix, "-c", dir, "reload")
	deadAt := time.Now()
	deadWaitDeferring(t, dir, deferAll)
	run(postconf, "-c", dir, "-M#", smtp+"/inet")
	run(postfix, "-c", dir, "reload")
	if err := deadWaitDown(smtp); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := exec.Command("ss", "-Htn", "state", "established", "src", smtp).Output()
		if err != nil {
			t.Fatalf("ss: %v", err)
		}
		if len(bytes.TrimSpace(out)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SMTP sessions to the new server still open 10 s after its listener closed:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	bed.waitQueueEmpty(t, "NEW")
	run(postfix, "-c", dir, "stop")
	run(testbed.DovecotPath, "-c", bed.env["NEW_IMAP_CONFIG"], "stop")
	if err := os.WriteFile(masterCF, saved, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := deadWaitDown(bed.env["NEW_IMAP_ADDR"] + ":" + bed.env["NEW_IMAP_PORT"]); err != nil {
		t.Fatal(err)
	}
	return deadAt
}

// deadWaitDeferring waits until every smtpd of the Postfix in config dir
// was started with arg (each process started before the reload has
// finished its session and exited).
func deadWaitDeferring(t *testing.T, dir, arg string) {
	t.Helper()
	q, err := exec.Command(testbed.RequireSbin(t, "postconf"), "-c", dir, "-h", "queue_directory").Output()
	if err != nil {
		t.Fatalf("postconf queue_directory: %v", err)
	}
	pidText, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(q)), "pid", "master.pid"))
	if err != nil {
		t.Fatal(err)
	}
	master := strings.TrimSpace(string(pidText))
	deadline := time.Now().Add(30 * time.Second)
	for {
		var old []string
		procs, _ := filepath.Glob("/proc/[0-9]*/stat")
		for _, p := range procs {
			stat, err := os.ReadFile(p)
			if err != nil {
				continue // gone meanwhile
			}
			// pid (comm) state ppid ...
			rest := string(stat)
			if i := strings.LastIndexByte(rest, ')'); i >= 0 {
				rest = rest[i+1:]
			}
			f := strings.Fields(rest)
			if len(f) < 2 || f[1] != master || !strings.Contains(string(stat), "(smtpd)") {
				continue
			}
			cmd, err := os.ReadFile(filepath.Join(filepath.Dir(p), "cmdline"))
			if err == nil && !bytes.Contains(cmd, []byte(arg)) {
				old = append(old, filepath.Base(filepath.Dir(p)))
			}
		}
		if len(old) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("smtpd processes %v of the new Postfix still run without %s 30 s after the reload", old, arg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// deadWaitDown waits until nothing listens at addrs any more.
func deadWaitDown(addrs ...string) error {
	deadline := time.Now().Add(10 * time.Second)
	for _, a := range addrs {
		for {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err != nil {
				break
			}
			c.Close()
			if time.Now().After(deadline) {
				return fmt.Errorf("%s still answers 10 s after the stop", a)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

// deadProbe sends one message to user the way a sending server does (the
// MX and its address looked up in the test bed's BIND, no cache) and
// waits until it is in user's Maildir on the old server.
func deadProbe(t *testing.T, bed *cliBed, user, subject string) {
	t.Helper()
	_, domain, _ := strings.Cut(user, "@")
	dns := newTTLCache(t, bed)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	mx, err := dns.lookup(ctx, domain+".", "MX")
	if err != nil || len(mx) != 1 {
		t.Errorf("probe to %s: MX %q: %v", user, mx, err)
		return
	}
	host := strings.Fields(mx[0])[len(strings.Fields(mx[0]))-1]
	addrs, err := dns.lookup(ctx, host, "A")
	if err != nil || len(addrs) != 1 || addrs[0] != bed.env["OLD_ADDR"] {
		t.Errorf("probe to %s: %s has addresses %q (%v), want the old server %s", user, host, addrs, err, bed.env["OLD_ADDR"])
		return
	}
	subject = fmt.Sprintf("%s (%s)", subject, user)
	if out, err := testbed.Swaks(t, net.JoinHostPort(addrs[0], bed.env["OLD_PORT"]), "probe@example.net", user, map[string]string{"Subject": subject}, "probe\n"); err != nil {
		t.Errorf("probe to %s: %v\n%s", user, err, out)
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, sub := range []string{"new", "cur"} {
			files, _ := filepath.Glob(filepath.Join(bed.maildir("OLD", user), sub, "*"))
			for _, f := range files {
				if data, err := os.ReadFile(f); err == nil && bytes.Contains(data, []byte("Subject: "+subject)) {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Errorf("probe %q not in %s's Maildir on the old server after 30 s", subject, user)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// deadCopies maps each X-Zero-Loss-Id to the users whose Maildirs hold it
// on both servers under the same base name (the part before ":2,", a
// message's identity in Maildir): one delivery and its mailbox_copy copy.
// Two deliveries never share a base name.
func deadCopies(t *testing.T, bed *cliBed) map[string][]string {
	t.Helper()
	names := func(side, user string) map[string]string {
		m := map[string]string{}
		for _, sub := range []string{"new", "cur"} {
			dir := filepath.Join(bed.maildir(side, user), sub)
			es, err := os.ReadDir(dir)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			for _, e := range es {
				base, _, _ := strings.Cut(e.Name(), ":")
				m[base] = filepath.Join(dir, e.Name())
			}
		}
		return m
	}
	out := map[string][]string{}
	for _, u := range bed.users {
		onNew := names("NEW", u)
		for base, path := range names("OLD", u) {
			if _, ok := onNew[base]; !ok {
				continue
			}
			if id := zeroLossID(t, path); id != "" {
				out[id] = append(out[id], u)
			}
		}
	}
	return out
}

// deadWithout is users with one entry of each of copies taken out.
func deadWithout(users, copies []string) []string {
	out := append([]string(nil), users...)
	for _, c := range copies {
		for i, u := range out {
			if u == c {
				out = append(out[:i], out[i+1:]...)
				break
			}
		}
	}
	return out
}
