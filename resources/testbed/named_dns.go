package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// DNSAnswer is named's answer to a query, as dig shows it.
type DNSAnswer struct {
	// Status is the response code: "NOERROR", "NXDOMAIN", "SERVFAIL",
	// "REFUSED", ...
	Status string
	// Authoritative is the AA flag.
	Authoritative bool
	// TTL is the TTL of the answer's records of the type asked for.
	TTL uint32
	// RData are the data of the answer's records of the type asked for
	// (any type for ANY), as dig prints them, sorted; names are fully
	// qualified, TXT strings quoted.
	RData []string
}

// Query asks named for name's records of rtype (dig +norecurse
// @Addr -p Port, UDP), never any other server. The error is for no
// answer (a timeout) or dig failing; a SERVFAIL or NXDOMAIN is an
// answer.
func (n *NamedServer) Query(name, rtype string) (DNSAnswer, error) {
	return n.query(name, rtype, 2)
}

func (n *NamedServer) query(name, rtype string, tries int) (DNSAnswer, error) {
	dig, err := namedProgram("dig")
	if err != nil {
		return DNSAnswer{}, err
	}
	rtype = strings.ToUpper(rtype)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, dig, "-4", "+norecurse", "+nosearch", "+time=1", "+tries="+strconv.Itoa(tries),
		"+noall", "+comments", "+answer", "+nocookie", "@"+n.Addr, "-p", strconv.Itoa(n.Port), fqdn(name), rtype)
	// No resolver configuration: dig must not look for any other server.
	cmd.Env = append(os.Environ(), "LOCALDOMAIN=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		return DNSAnswer{}, fmt.Errorf("dig @%s %s %s: %v\n%s", n.Server(), name, rtype, err, out.Bytes())
	}
	return parseDig(out.String(), rtype)
}

var digHeaderRE = regexp.MustCompile(`->>HEADER<<- opcode: \w+, status: (\w+)`)

// parseDig parses dig +noall +comments +answer output.
func parseDig(out, rtype string) (DNSAnswer, error) {
	var a DNSAnswer
	ttlSet := false
	for _, line := range strings.Split(out, "\n") {
		if m := digHeaderRE.FindStringSubmatch(line); m != nil {
			a.Status = m[1]
			continue
		}
		if strings.HasPrefix(line, ";; flags:") {
			flags, _, _ := strings.Cut(strings.TrimPrefix(line, ";; flags:"), ";")
			for _, f := range strings.Fields(flags) {
				a.Authoritative = a.Authoritative || f == "aa"
			}
			continue
		}
		if strings.HasPrefix(line, ";") || strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		if rtype != "ANY" && f[3] != rtype {
			continue // e.g. the CNAME before the records asked for
		}
		ttl, err := strconv.ParseUint(f[1], 10, 32)
		if err != nil {
			return a, fmt.Errorf("dig answer line %q: %v", line, err)
		}
		if !ttlSet {
			a.TTL, ttlSet = uint32(ttl), true
		}
		data := strings.Join(f[4:], " ")
		if rtype == "ANY" {
			data = f[3] + " " + data
		}
		a.RData = append(a.RData, data)
	}
	if a.Status == "" {
		return a, fmt.Errorf("no answer from the server:\n%s", out)
	}
	sort.Strings(a.RData)
	return a, nil
}

// Dig returns the TTL and data (see DNSAnswer) of name's records of
// rtype, asked of named only (dig +norecurse @Addr -p Port); none for
// NXDOMAIN or no such records. Any other status than NOERROR or
// NXDOMAIN (SERVFAIL, REFUSED, ...), or no answer, fails the test.
func (n *NamedServer) Dig(t testing.TB, name, rtype string) (ttl uint32, rdata []string) {
	t.Helper()
	a, err := n.Query(name, rtype)
	if err != nil {
		t.Fatalf("named: %v", err)
	}
	if a.Status != "NOERROR" && a.Status != "NXDOMAIN" {
		t.Fatalf("dig @%s %s %s: %s", n.Server(), name, rtype, a.Status)
	}
	return a.TTL, a.RData
}

// ZoneSerial returns the serial of zone's SOA (updates increase it).
func (n *NamedServer) ZoneSerial(t testing.TB, zone string) uint32 {
	t.Helper()
	_, rdata := n.Dig(t, zone, "SOA")
	if len(rdata) != 1 {
		t.Fatalf("named: %d SOA records for %s", len(rdata), zone)
	}
	f := strings.Fields(rdata[0])
	if len(f) != 7 {
		t.Fatalf("named: SOA %q", rdata[0])
	}
	serial, err := strconv.ParseUint(f[2], 10, 32)
	if err != nil {
		t.Fatalf("named: SOA serial %q: %v", f[2], err)
	}
	return uint32(serial)
}

// NSUpdate sends commands (nsupdate syntax: "update add NAME TTL TYPE
// DATA", "update delete NAME TYPE", "prereq ..."; names fully qualified)
// to named with nsupdate, signed with the key of algorithm: changes
// behind mailplan's back. The "server" line and, unless commands has
// one, a "zone" line (the served zone the first name falls in) are added
// before, and "send" after unless commands ends with it. A refused
// update fails the test.
func (n *NamedServer) NSUpdate(t testing.TB, algorithm string, commands string) {
	t.Helper()
	k, ok := n.Keys[algorithm]
	if !ok {
		t.Fatalf("named: no key for TSIG algorithm %q (have %s)", algorithm, strings.Join(n.algorithms, ", "))
	}
	if out, err := n.TryNSUpdate(k, commands); err != nil {
		t.Fatalf("nsupdate: %v\n%s", err, out)
	}
}

// TryNSUpdate is NSUpdate with any key, e.g. one with a wrong secret or
// name: it returns nsupdate's output and an error when nsupdate fails
// (e.g. "update failed: NOTAUTH(BADSIG)", "; TSIG error with server:
// tsig verify failure"). The secret goes in a key file, never on a
// command line.
func (n *NamedServer) TryNSUpdate(k TSIGKey, commands string) (string, error) {
	nsupdate, err := namedProgram("nsupdate")
	if err != nil {
		return "", err
	}
	keyFile := k.KeyFile
	if keyFile == "" || !n.ownKey(k) {
		f, err := os.CreateTemp(n.Dir, "nsupdate-key-")
		if err != nil {
			return "", err
		}
		defer os.Remove(f.Name())
		_, err = fmt.Fprintf(f, "key %q {\n\talgorithm %s;\n\tsecret %q;\n};\n", strings.TrimSuffix(k.Name, "."), k.Algorithm, k.Secret)
		if err := errors.Join(err, f.Close()); err != nil {
			return "", err
		}
		keyFile = f.Name()
	}
	script := n.nsupdateScript(commands)
	return n.runLogged(30*time.Second, strings.NewReader(script), nsupdate, "-t", "5", "-k", keyFile)
}

// ownKey reports whether k is one of n.Keys as it is.
func (n *NamedServer) ownKey(k TSIGKey) bool {
	own, ok := n.Keys[k.Algorithm]
	return ok && own == k
}

// nsupdateScript adds the server, zone and send lines to commands.
func (n *NamedServer) nsupdateScript(commands string) string {
	var lines []string
	hasZone, hasSend := false, false
	firstName := ""
	for _, line := range strings.Split(commands, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		lines = append(lines, line)
		f := strings.Fields(line)
		switch f[0] {
		case "zone":
			hasZone = true
		case "send":
			hasSend = true
			continue
		}
		hasSend = false
		if firstName != "" {
			continue
		}
		// update add|delete NAME ..., prereq yxdomain|nxdomain|yxrrset|nxrrset NAME ...
		if (f[0] == "update" || f[0] == "prereq") && len(f) >= 3 {
			firstName = f[2]
		} else if (f[0] == "add" || f[0] == "del" || f[0] == "delete") && len(f) >= 2 {
			firstName = f[1]
		}
	}
	head := []string{fmt.Sprintf("server %s %d", n.Addr, n.Port)}
	if !hasZone {
		head = append(head, "zone "+n.zoneOf(firstName))
	}
	lines = append(head, lines...)
	if !hasSend {
		lines = append(lines, "send")
	}
	return strings.Join(lines, "\n") + "\n"
}

// zoneOf returns the served zone name falls in (the longest), else the
// first zone.
func (n *NamedServer) zoneOf(name string) string {
	name = fqdn(strings.ToLower(name))
	best := ""
	for _, z := range n.Zones {
		if (name == z || strings.HasSuffix(name, "."+z)) && len(z) > len(best) {
			best = z
		}
	}
	if best == "" {
		return n.Zones[0]
	}
	return best
}

// SetRRset replaces name's records of rtype with rdata at ttl (none:
// deletes them) in one update signed with the first key: e.g. TTLs of a
// few seconds for the TTL transition, or a change behind mailplan's
// back.
func (n *NamedServer) SetRRset(t testing.TB, name, rtype string, ttl uint32, rdata ...string) {
	t.Helper()
	name = fqdn(name)
	cmds := []string{fmt.Sprintf("update delete %s %s", name, rtype)}
	for _, d := range rdata {
		cmds = append(cmds, fmt.Sprintf("update add %s %d %s %s", name, ttl, rtype, d))
	}
	n.NSUpdate(t, n.algorithms[0], strings.Join(cmds, "\n"))
}

// SetTTL sets the TTL of name's records of rtype (which must exist),
// keeping their data, and checks that named serves the new TTL: e.g.
// SetTTL(t, "example.com.", "MX", 2) for records that expire in tests.
func (n *NamedServer) SetTTL(t testing.TB, name, rtype string, ttl uint32) {
	t.Helper()
	_, rdata := n.Dig(t, name, rtype)
	if len(rdata) == 0 {
		t.Fatalf("named: SetTTL: no %s records at %s", rtype, name)
	}
	n.SetRRset(t, name, rtype, ttl, rdata...)
	if got, _ := n.Dig(t, name, rtype); got != ttl {
		t.Fatalf("named: SetTTL %s %s %d: served TTL is %d", name, rtype, ttl, got)
	}
}

// SetZoneTTL gives every record zone started with (NamedZoneRecords)
// but its SOA and NS the TTL ttl, data unchanged, in one update: a zone
// whose cutover waits are seconds (mailplan-testbed up -ttl).
func (n *NamedServer) SetZoneTTL(zone string, ttl uint32) error {
	type rrset struct{ name, typ string }
	sets := map[rrset][]string{}
	var order []rrset
	for _, r := range n.Records(zone) {
		if r.Type == "SOA" || r.Type == "NS" {
			continue
		}
		k := rrset{r.Name, r.Type}
		if sets[k] == nil {
			order = append(order, k)
		}
		sets[k] = append(sets[k], r.Data)
	}
	cmds := []string{"zone " + fqdn(zone)}
	for _, k := range order {
		cmds = append(cmds, fmt.Sprintf("update delete %s %s", k.name, k.typ))
		for _, d := range sets[k] {
			cmds = append(cmds, fmt.Sprintf("update add %s %d %s %s", k.name, ttl, k.typ, d))
		}
	}
	out, err := n.TryNSUpdate(n.Keys[n.algorithms[0]], strings.Join(cmds, "\n"))
	if err != nil {
		return fmt.Errorf("named: set the TTLs of %s to %d: %v: %s", zone, ttl, err, out)
	}
	return nil
}

// runLogged runs a command (stdin may be nil) with its output appended
// to the server's command log, and returns what it wrote there.
func (n *NamedServer) runLogged(timeout time.Duration, stdin *strings.Reader, name string, args ...string) (string, error) {
	f, err := os.OpenFile(n.cmdLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var out bytes.Buffer
	fmt.Fprintf(f, "$ %s %s\n", name, strings.Join(args, " "))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	runErr := cmd.Run()
	if filepath.Base(name) != "tsig-keygen" {
		// Not the keys: the log is for reading, the secrets stay in keys/.
		_, _ = f.Write(out.Bytes())
	}
	return out.String(), runErr
}
