package testbed

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestNamedOptionsChecked(t *testing.T) {
	for _, opts := range []NamedOptions{
		{Addr: "10.0.0.1"},
		{Addr: "::1"},
		{Zones: []string{}},
		{Zones: []string{"exa mple.com"}},
		{Zones: []string{"example.com", "example.com."}},
		{Algorithms: []string{"hmac-sha3"}},
		{Algorithms: []string{}},
		{Dir: "/tmp/a dir"},
	} {
		if n, err := StartNamed(opts); err == nil {
			n.Close()
			t.Errorf("StartNamed(%+v) succeeded", opts)
		}
	}
}

func TestNamed(t *testing.T) {
	t.Parallel()
	zones := []string{"example.com.", "example.org"}
	n := Named(t, NamedOptions{Zones: zones, Algorithms: NamedAlgorithms})
	if n.Addr != "127.0.0.4" || n.Port == 0 || n.Server() != n.Addr+":"+itoa(n.Port) {
		t.Fatalf("server %s (%s, %d)", n.Server(), n.Addr, n.Port)
	}
	if !reflect.DeepEqual(n.Zones, []string{"example.com.", "example.org."}) {
		t.Fatalf("zones %q", n.Zones)
	}

	// Every record of the table, as named serves it.
	for _, z := range n.Zones {
		for _, r := range n.Records(z) {
			ttl, rdata := n.Dig(t, r.Name, r.Type)
			if ttl != r.TTL || !reflect.DeepEqual(rdata, []string{r.Data}) {
				t.Errorf("%s %s: TTL %d %q, want %d %q", r.Name, r.Type, ttl, rdata, r.TTL, r.Data)
			}
		}
	}
	if ttl, mx := n.Dig(t, "example.com", "MX"); ttl != NamedMXTTL || !reflect.DeepEqual(mx, []string{"10 mail.old.example.com."}) {
		t.Errorf("MX: %d %q", ttl, mx)
	}
	if ttl, a := n.Dig(t, "ns1.example.org.", "A"); ttl != NamedTTL || !reflect.DeepEqual(a, []string{n.Addr}) {
		t.Errorf("ns1 A: %d %q", ttl, a)
	}
	if ttl, a := n.Dig(t, "nothing.example.com.", "A"); ttl != 0 || a != nil {
		t.Errorf("NXDOMAIN: %d %q", ttl, a)
	}
	if a, err := n.Query("nothing.example.com.", "A"); err != nil || a.Status != "NXDOMAIN" || !a.Authoritative {
		t.Errorf("Query NXDOMAIN: %+v, %v", a, err)
	}
	// Not ours: refused, not recursed.
	if a, err := n.Query("example.net.", "A"); err != nil || a.Status != "REFUSED" {
		t.Errorf("Query outside the zones: %+v, %v", a, err)
	}

	// An update with each algorithm's key, in each zone.
	serial := n.ZoneSerial(t, "example.com.")
	for _, alg := range NamedAlgorithms {
		k := n.Keys[alg]
		if k.Name != "mailplan-"+alg+"." || k.Algorithm != alg || k.Secret == "" {
			t.Fatalf("key %+v", k)
		}
		if b, err := os.ReadFile(k.SecretFile); err != nil || string(b) != k.Secret+"\n" {
			t.Fatalf("secret file %s: %q, %v", k.SecretFile, b, err)
		}
		for i, z := range n.Zones {
			name := alg + "." + z
			addr := "192.0.2." + itoa(i+1)
			n.NSUpdate(t, alg, "update add "+name+" 300 A "+addr)
			if ttl, a := n.Dig(t, name, "A"); ttl != 300 || !reflect.DeepEqual(a, []string{addr}) {
				t.Errorf("%s after the update: %d %q", name, ttl, a)
			}
		}
	}
	if s := n.ZoneSerial(t, "example.com."); s <= serial {
		t.Errorf("serial %d after updates, was %d", s, serial)
	}
	// The journal is beside the zone file.
	if _, err := os.Stat(n.zoneFile("example.com.") + ".jnl"); err != nil {
		t.Errorf("journal: %v", err)
	}

	// A wrong secret is refused, and changes nothing.
	bad := n.Keys["hmac-sha256"]
	bad.Secret = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	out, err := n.TryNSUpdate(bad, "update add wrong.example.com. 300 A 192.0.2.9")
	if err == nil || !(strings.Contains(out, "BADSIG") || strings.Contains(out, "tsig verify failure")) {
		t.Errorf("wrong secret: %v\n%s", err, out)
	}
	if strings.Contains(out, bad.Secret) {
		t.Errorf("nsupdate output shows the secret: %s", out)
	}
	// An unknown key name too.
	unknown := n.Keys["hmac-sha256"]
	unknown.Name = "someone-else."
	if out, err := n.TryNSUpdate(unknown, "update add wrong.example.com. 300 A 192.0.2.9"); err == nil || !strings.Contains(out, "BADKEY") {
		t.Errorf("unknown key: %v\n%s", err, out)
	}
	if _, a := n.Dig(t, "wrong.example.com.", "A"); a != nil {
		t.Errorf("refused updates changed the zone: %q", a)
	}
	// No secret in the logs.
	for _, p := range []string{n.LogPath, n.cmdLog, n.ConfigPath} {
		b, _ := os.ReadFile(p)
		for _, k := range n.Keys {
			if strings.Contains(string(b), k.Secret) {
				t.Errorf("%s holds the %s secret", p, k.Algorithm)
			}
		}
	}
}

// TestNamedLowTTL: records with TTLs of a few seconds, as the TTL
// transition tests set them.
func TestNamedLowTTL(t *testing.T) {
	t.Parallel()
	n := Named(t, NamedOptions{Addr: "127.0.0.1"})
	n.SetTTL(t, "example.com.", "MX", 2)
	if ttl, mx := n.Dig(t, "example.com.", "MX"); ttl != 2 || !reflect.DeepEqual(mx, []string{"10 mail.old.example.com."}) {
		t.Errorf("MX: %d %q", ttl, mx)
	}
	n.SetRRset(t, "example.com.", "MX", 3, "10 mail.new.example.com.", "20 mail.old.example.com.")
	if ttl, mx := n.Dig(t, "example.com.", "MX"); ttl != 3 || !reflect.DeepEqual(mx, []string{"10 mail.new.example.com.", "20 mail.old.example.com."}) {
		t.Errorf("MX: %d %q", ttl, mx)
	}
	n.SetRRset(t, "example.com.", "MX", 0)
	if _, mx := n.Dig(t, "example.com.", "MX"); mx != nil {
		t.Errorf("MX after delete: %q", mx)
	}
	// A prerequisite that no longer holds fails the update.
	if out, err := n.TryNSUpdate(n.Keys["hmac-sha256"], "prereq yxrrset example.com. MX\nupdate add x.example.com. 5 A 192.0.2.1"); err == nil || !strings.Contains(out, "NXRRSET") {
		t.Errorf("failed prerequisite: %v\n%s", err, out)
	}
}

// TestNamedClose: Close leaves no process and no files, and a named is
// stopped from another process with Process.Stop.
func TestNamedClose(t *testing.T) {
	t.Parallel()
	if err := CheckNamedAvailable(); err != nil {
		skipOrFatal(t, err)
	}
	dir := filepath.Join(t.TempDir(), "named")
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(filepath.Dir(dir)), 0o755); err != nil {
		t.Fatal(err)
	}
	n, err := StartNamed(NamedOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	n.NSUpdate(t, "hmac-sha256", "update add x.example.com. 5 A 192.0.2.1")
	pr := n.Process()
	if pr.Kind != "named" || !pr.Running() {
		t.Fatalf("process %+v not running", pr)
	}
	if cur, ok := pr.Current(); !ok || cur != pr {
		t.Fatalf("Current: %+v %v", cur, ok)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if pr.Running() || processAlive(pr.PID) {
		t.Errorf("named %d still runs after Close", pr.PID)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s after Close: %v", dir, err)
	}
	if err := n.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	n2, err := StartNamed(NamedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Close()
	pr = n2.Process()
	if err := pr.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, ok := pr.Current(); ok {
		t.Errorf("named %d runs after Stop", pr.PID)
	}
	if err := pr.Stop(time.Second); err == nil {
		t.Errorf("Stop of a stopped named succeeded")
	}
	if err := n2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(n2.Dir); !os.IsNotExist(err) {
		t.Errorf("%s after Close: %v", n2.Dir, err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
