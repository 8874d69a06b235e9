package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mailplan/mailplan/resources/testbed"
)

// The mx-cutover example end to end against a real BIND, with TTLs of a few
// seconds: the first apply lowers the TTLs and exits 0 with a persisted
// wait; plan shows it; the next apply switches MX, client names and SPF and
// waits the short TTL out; plan shows the hold; the apply after the hold
// raises the TTLs; rollback and destroy put the records back exactly; the
// TSIG secret is in no file mailplan wrote.
func TestMXCutoverRunbook(t *testing.T) {
	ns := testbed.Named(t, testbed.NamedOptions{Zones: []string{"example.com.", "example.org."}})
	key := ns.Keys["hmac-sha256"]
	wd, _ := os.Getwd()
	t.Cleanup(func() { os.Chdir(wd) })

	// The zones as a real one would be a little before the move, with
	// short TTLs so that the test's waits are seconds.
	const liveTTL = 4
	const transitionHold = 20 * time.Second
	type rr struct{ name, typ string }
	names := []rr{}
	for _, z := range []string{"example.com.", "example.org."} {
		names = append(names, rr{z, "MX"}, rr{z, "TXT"}, rr{"imap." + z, "A"}, rr{"smtp." + z, "A"})
	}
	for _, r := range names {
		ns.SetTTL(t, r.name, r.typ, liveTTL)
	}
	type answer struct {
		TTL   uint32
		RData []string
	}
	dig := func() map[rr]answer {
		out := map[rr]answer{}
		for _, r := range names {
			ttl, rd := ns.Dig(t, r.name, r.typ)
			out[r] = answer{ttl, rd}
		}
		return out
	}
	original := dig()

	work := t.TempDir()
	copyTree(t, filepath.Join(wd, "..", "..", "plans"), filepath.Join(work, "plans"))
	dir := filepath.Join(work, "plans", "examples", "mx-cutover")
	varFile := filepath.Join(work, "bed.mpvars.hcl")
	os.WriteFile(varFile, []byte(fmt.Sprintf(`
dns_address     = %q
tsig_key_name   = %q
tsig_algorithm  = %q
transition_ttl  = 2
transition_hold = "20s"
domains = {
  "example.com." = { new_mx = "mail.new.example.com.", new_ip = "127.0.0.3", spf = "v=spf1 ip4:127.0.0.3 mx -all" }
  "example.org." = { new_mx = "mail.new.example.org.", new_ip = "127.0.0.3", spf = "v=spf1 ip4:127.0.0.3 mx -all" }
}
`, ns.Server(), key.Name, key.Algorithm)), 0o644)
	// The example's zones need mail.new in example.org. too.
	ns.SetRRset(t, "mail.new.example.org.", "A", 3600, "127.0.0.3")
	t.Setenv("MAILPLAN_VAR_tsig_secret", key.Secret)

	step := func(want int, args ...string) string {
		t.Helper()
		code, out, errs := runCLI(t, dir, append(args, "-var-file="+varFile)...)
		os.Chdir(wd)
		if code != want {
			t.Fatalf("mailplan %v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, want, out, errs)
		}
		if strings.Contains(out+errs, key.Secret) {
			t.Fatalf("mailplan %v printed the TSIG secret", args)
		}
		return out + errs
	}

	out := step(2, "plan", "-detailed-exitcode")
	if !strings.Contains(out, `module.cutover["example.com."].mx_record.mx will be updated in-place`) {
		t.Errorf("plan:\n%s", out)
	}
	// 1. Lower the TTLs; the old TTL is longer than -max-wait: exit 0.
	out = step(0, "apply", "-auto-approve", "-max-wait=1s")
	if !strings.Contains(out, "waiting until") {
		t.Errorf("apply did not report the wait:\n%s", out)
	}
	if ttl, rd := ns.Dig(t, "example.com.", "MX"); ttl != 2 || !cmp.Equal(rd, original[rr{"example.com.", "MX"}].RData) {
		t.Errorf("after step 1 MX = %v ttl %d, want the old records at TTL 2", rd, ttl)
	}
	out = step(0, "plan")
	if !strings.Contains(out, "waiting until") {
		t.Errorf("plan does not show the wait:\n%s", out)
	}
	if code, out, errs := runCLI(t, dir, "show", "-json"); code != 0 || !strings.Contains(out, `"mailplan_waiting"`) {
		t.Errorf("show -json: exit %d, no mailplan_waiting:\n%s\n%s", code, out, errs)
	}
	os.Chdir(wd)
	// 2. After the old TTL: switch, and wait the short TTL out inline.
	time.Sleep(liveTTL * time.Second)
	// The switch happens within this apply: the hold runs from some time
	// between these two instants, whatever the machine's load.
	beforeSwitch := time.Now()
	step(0, "apply", "-auto-approve", "-max-wait=10s")
	afterSwitch := time.Now()
	for _, z := range []string{"example.com.", "example.org."} {
		if ttl, rd := ns.Dig(t, z, "MX"); ttl != 2 || !cmp.Equal(rd, []string{"10 mail.new." + z}) {
			t.Errorf("after the switch %s MX = %v ttl %d", z, rd, ttl)
		}
		if _, rd := ns.Dig(t, "imap."+z, "A"); !cmp.Equal(rd, []string{"127.0.0.3"}) {
			t.Errorf("imap.%s = %v", z, rd)
		}
		if _, rd := ns.Dig(t, z, "TXT"); !cmp.Equal(rd, []string{`"v=spf1 ip4:127.0.0.3 mx -all"`}) {
			t.Errorf("%s TXT = %v", z, rd)
		}
	}
	// 3. During the hold: nothing to do but the pending raise. (A
	// machine so slow that the apply outlasted the hold cannot show it.)
	out = step(0, "plan", "-detailed-exitcode")
	if time.Since(beforeSwitch) < transitionHold && !strings.Contains(out, "pending") {
		t.Errorf("plan does not show the pending TTL raise:\n%s", out)
	} else if time.Since(beforeSwitch) >= transitionHold {
		t.Logf("the switch's apply took %s, longer than the hold: the pending raise could not be seen", afterSwitch.Sub(beforeSwitch))
	}
	// 4. After the hold: the raise.
	time.Sleep(time.Until(afterSwitch.Add(transitionHold + 500*time.Millisecond)))
	step(2, "plan", "-detailed-exitcode")
	step(0, "apply", "-auto-approve")
	if ttl, _ := ns.Dig(t, "example.com.", "MX"); ttl != 86400 {
		t.Errorf("MX TTL after the raise = %d, want 86400", ttl)
	}
	step(0, "plan", "-detailed-exitcode")

	// Rollback undoes the raise; destroy puts back what was there.
	step(0, "rollback", "-auto-approve")
	if ttl, _ := ns.Dig(t, "example.com.", "MX"); ttl != 2 {
		t.Errorf("MX TTL after rollback = %d, want 2", ttl)
	}
	step(0, "destroy", "-auto-approve")
	if got := dig(); !cmp.Equal(original, got) {
		t.Errorf("after destroy (-before +after):\n%s", cmp.Diff(original, got))
	}

	// The secret is in no file mailplan wrote.
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if b, _ := os.ReadFile(p); strings.Contains(string(b), key.Secret) {
			t.Errorf("the TSIG secret is in %s", p)
		}
		return nil
	})
}
