package testbed

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// NamedOptions configures the BIND 9 server StartNamed starts.
type NamedOptions struct {
	// Addr is the loopback address named listens on, UDP and TCP;
	// default "127.0.0.4". Only 127.0.0.0/8 is allowed.
	Addr string
	// Zones are the zones named is authoritative for, default
	// {"example.com."}; a missing final dot is added. Each starts with
	// the records of NamedZoneRecords.
	Zones []string
	// Dir is the directory for the server's configuration, keys, zone
	// files, journals and log: created when missing, else it must be
	// empty. Close removes it. The bind user must be able to traverse
	// every directory above it. Default: a new directory in the system's
	// temporary directory, or under /var/lib/bind where AppArmor confines
	// named (its profile allows zone files only under /etc/bind,
	// /var/lib/bind and /var/cache/bind).
	Dir string
	// Algorithms are the TSIG algorithms to make a key for (one key
	// each, named "mailplan-ALGORITHM."), every key allowed to update
	// every zone; default {"hmac-sha256"}. Supported: hmac-md5,
	// hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512.
	Algorithms []string
}

// NamedServer is a running BIND 9 named, authoritative for Zones on
// Addr:Port, taking RFC 2136 updates signed with any of Keys.
type NamedServer struct {
	// Addr and Port are where named listens, UDP and TCP (see Server).
	Addr string
	Port int
	// Dir holds all of the server's files.
	Dir string
	// LogPath is named's log (its standard error, -g), worth reading
	// when a test fails.
	LogPath string
	// ConfigPath is named.conf.
	ConfigPath string
	// Zones are the zones served, fully qualified ("example.com.").
	Zones []string
	// Keys are the TSIG keys allowed to update every zone, by
	// algorithm.
	Keys map[string]TSIGKey

	algorithms []string // as in the options: the first is the default
	dataDir    string   // owned by bind: zone files, journals, PID file
	cmdLog     string   // output of dig and nsupdate
	daemon
}

// TSIGKey is a TSIG key named accepts for updates.
type TSIGKey struct {
	// Name is the key's name, fully qualified: "mailplan-hmac-sha256.".
	Name string
	// Algorithm is e.g. "hmac-sha256".
	Algorithm string
	// Secret is the key, base64 as tsig-keygen prints it.
	Secret string
	// SecretFile holds Secret alone and a newline (mode 0600).
	SecretFile string
	// KeyFile holds the key in named.conf syntax, as tsig-keygen prints
	// it (mode 0600): nsupdate -k KeyFile.
	KeyFile string
}

// The TTLs of the records every zone starts with (NamedZoneRecords).
const (
	// NamedMXTTL is the TTL of the zone's MX record: a day, as a real
	// zone's MX often has, so that the TTL transition has work to do.
	NamedMXTTL = 86400
	// NamedTTL is the TTL of every other record.
	NamedTTL = 3600
	// NamedNegativeTTL is the SOA's minimum field (negative caching).
	NamedNegativeTTL = 60
)

// NamedRecord is one record of a zone named serves.
type NamedRecord struct {
	// Name is the owner name, fully qualified.
	Name string
	// Type is the record type, e.g. "MX".
	Type string
	// TTL is the record's TTL in seconds.
	TTL uint32
	// Data is the record's data as dig prints it, names fully qualified.
	Data string
}

// namedZoneTable is what every zone starts with: in Name and Data,
// {zone} stands for the zone ("example.com.") and {addr} for the
// server's address. mail.old, imap and smtp point at the test bed's
// Postfix "old" (127.0.0.2), mail.new at "new" (127.0.0.3).
var namedZoneTable = []NamedRecord{
	{"{zone}", "SOA", NamedTTL, "ns1.{zone} hostmaster.{zone} 1 3600 600 86400 " + strconv.Itoa(NamedNegativeTTL)},
	{"{zone}", "NS", NamedTTL, "ns1.{zone}"},
	{"{zone}", "MX", NamedMXTTL, "10 mail.old.{zone}"},
	{"{zone}", "TXT", NamedTTL, `"v=spf1 mx -all"`},
	{"ns1.{zone}", "A", NamedTTL, "{addr}"},
	{"mail.old.{zone}", "A", NamedTTL, "127.0.0.2"},
	{"mail.new.{zone}", "A", NamedTTL, "127.0.0.3"},
	{"imap.{zone}", "A", NamedTTL, "127.0.0.2"},
	{"smtp.{zone}", "A", NamedTTL, "127.0.0.2"},
}

// NamedZoneRecords returns the records a zone served from addr starts
// with: its SOA (serial 1; updates increase it), NS ns1.ZONE with its A
// record addr, MX 10 mail.old.ZONE (TTL NamedMXTTL), TXT "v=spf1 mx
// -all", and A records for mail.old and imap and smtp (127.0.0.2) and
// mail.new (127.0.0.3); all but the MX with TTL NamedTTL.
func NamedZoneRecords(zone, addr string) []NamedRecord {
	zone = fqdn(zone)
	r := strings.NewReplacer("{zone}", zone, "{addr}", addr)
	out := make([]NamedRecord, len(namedZoneTable))
	for i, rec := range namedZoneTable {
		out[i] = NamedRecord{Name: r.Replace(rec.Name), Type: rec.Type, TTL: rec.TTL, Data: r.Replace(rec.Data)}
	}
	return out
}

// Records returns the records zone started with (NamedZoneRecords).
func (n *NamedServer) Records(zone string) []NamedRecord {
	return NamedZoneRecords(zone, n.Addr)
}

// NamedAlgorithms are the TSIG algorithms NamedOptions.Algorithms may
// name.
var NamedAlgorithms = []string{"hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512"}

// namedPaths are where Debian's bind9 and bind9-dnsutils put the
// programs the test bed runs.
var namedPaths = map[string]string{
	"named":       "/usr/sbin/named",
	"tsig-keygen": "/usr/sbin/tsig-keygen",
	"dig":         "/usr/bin/dig",
	"nsupdate":    "/usr/bin/nsupdate",
}

// namedProgram returns the path of one of namedPaths' programs: PATH
// first, then Debian's place.
func namedProgram(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if p := namedPaths[name]; isExecutable(p) {
		return p, nil
	}
	return "", fmt.Errorf("%s not found in PATH or at %s", name, namedPaths[name])
}

// CheckNamedAvailable reports what this machine lacks to run StartNamed:
// root (named drops to the bind user), the bind user, named and
// tsig-keygen (bind9), dig and nsupdate (bind9-dnsutils). Its error
// matches ErrUnavailable; nil means all are there.
func CheckNamedAvailable() error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (named starts as root and changes to the bind user)")
	}
	for _, name := range []string{"named", "tsig-keygen", "dig", "nsupdate"} {
		if _, err := namedProgram(name); err != nil {
			pkg := "bind9"
			if name == "dig" || name == "nsupdate" {
				pkg = "bind9-dnsutils"
			}
			missing = append(missing, name+" ("+pkg+")")
		}
	}
	if _, _, err := lookupIDs("bind"); err != nil && len(missing) == 0 {
		missing = append(missing, "the bind user (bind9)")
	}
	return lacking("the BIND test bed", missing)
}

// Named starts a BIND 9 named for the test (see StartNamed); it is
// stopped and its directory removed when the test ends, its log shown
// when the test failed. Without root or BIND the test is skipped, or
// fails when Strict.
func Named(t testing.TB, opts NamedOptions) *NamedServer {
	t.Helper()
	return startForTest(t, StartNamed, opts)
}

var (
	zoneNameRE = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+$`)
)

// StartNamed starts named (-g -u bind, in its own session, its output
// in LogPath) on opts.Addr and a free port, authoritative for
// opts.Zones, with a TSIG key per algorithm allowed to update them
// (journals beside the zone files in Dir). It returns once every zone's
// SOA is served over UDP. It never recurses, notifies or transfers
// zones, and opens no rndc channel. Close stops it and removes its
// directory. Its error matches ErrUnavailable without root or BIND;
// mistakes in opts are reported first, on any machine.
func StartNamed(opts NamedOptions) (*NamedServer, error) {
	addr, err := loopbackAddr("named", cmp.Or(opts.Addr, "127.0.0.4"))
	if err != nil {
		return nil, err
	}
	if opts.Zones == nil {
		opts.Zones = []string{"example.com."}
	}
	if len(opts.Zones) == 0 {
		return nil, errors.New("named test bed: no zones")
	}
	var zones []string
	seen := map[string]bool{}
	for _, z := range opts.Zones {
		z = fqdn(strings.ToLower(z))
		if !zoneNameRE.MatchString(z) || seen[z] {
			return nil, fmt.Errorf("named test bed: zone %q is not a plain domain name, or is listed twice", z)
		}
		seen[z] = true
		zones = append(zones, z)
	}
	if opts.Algorithms == nil {
		opts.Algorithms = []string{"hmac-sha256"}
	}
	if len(opts.Algorithms) == 0 {
		return nil, errors.New("named test bed: no TSIG algorithms")
	}
	algSeen := map[string]bool{}
	for _, a := range opts.Algorithms {
		ok := false
		for _, s := range NamedAlgorithms {
			ok = ok || s == a
		}
		if !ok || algSeen[a] {
			return nil, fmt.Errorf("named test bed: TSIG algorithm %q is not one of %s, or is listed twice", a, strings.Join(NamedAlgorithms, ", "))
		}
		algSeen[a] = true
	}
	if opts.Dir != "" && !safePathRE.MatchString(opts.Dir) {
		return nil, fmt.Errorf("named test bed: directory %q may hold only letters, digits and /._+-", opts.Dir)
	}
	if err := CheckNamedAvailable(); err != nil {
		return nil, err
	}
	bindUID, bindGID, err := lookupIDs("bind")
	if err != nil {
		return nil, err
	}

	var dir string
	if opts.Dir == "" && namedConfined() {
		dir, err = os.MkdirTemp("/var/lib/bind", "mailplan-test-")
		if err == nil {
			err = os.Chmod(dir, 0o755)
		}
	} else {
		dir, err = makeServerDir(opts.Dir, "mailplan-named-", 0o755)
	}
	if err != nil {
		return nil, fmt.Errorf("named test bed: %w", err)
	}
	n := &NamedServer{
		Addr:       addr,
		Dir:        dir,
		LogPath:    filepath.Join(dir, "named.log"),
		ConfigPath: filepath.Join(dir, "named.conf"),
		Zones:      zones,
		Keys:       map[string]TSIGKey{},
		algorithms: append([]string(nil), opts.Algorithms...),
		dataDir:    filepath.Join(dir, "data"),
		cmdLog:     filepath.Join(dir, "commands.log"),
		daemon:     daemon{exited: make(chan struct{})},
	}
	close(n.exited) // nothing to wait for until named starts
	if err := n.populate(bindUID, bindGID); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("named test bed: %w", err)
	}
	if err := ensureLoopbackAddr(n.Addr); err != nil {
		return nil, errors.Join(fmt.Errorf("named test bed: %w", err), n.Close())
	}
	err = onFreePort(func() (int, error) { return freeDNSPort(n.Addr) }, func(port int) (bool, error) {
		n.Port = port
		if err := n.writeConfig(); err != nil {
			return false, err
		}
		return n.start()
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("start named: %v", err), n.Close())
	}
	return n, nil
}

// ensureLoopbackAddr makes addr (in 127.0.0.0/8) an address of the
// loopback interface when no interface has it: named listens only on
// addresses interfaces have (it matches listen-on against them), and lo
// has only 127.0.0.1 while the kernel routes all of 127.0.0.0/8 to it.
// The address (ip addr add ADDR/32 dev lo, iproute2) stays: it changes
// no routing, and other test beds may be using it.
func ensureLoopbackAddr(addr string) error {
	if hasInterfaceAddr(addr) {
		return nil
	}
	ipCmd, err := lookSbin("ip")
	if err != nil {
		return unavailable{fmt.Sprintf("%s is not an address of lo, and ip (iproute2) is not there to add it: %v", addr, err)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, ipCmd, "-4", "addr", "add", addr+"/32", "dev", "lo").CombinedOutput()
	if err != nil && !hasInterfaceAddr(addr) {
		return fmt.Errorf("ip -4 addr add %s/32 dev lo: %v: %s", addr, err, bytes.TrimSpace(out))
	}
	return nil
}

// hasInterfaceAddr reports whether an interface has the address addr.
func hasInterfaceAddr(addr string) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.String() == addr {
			return true
		}
	}
	return false
}

// namedConfined reports whether AppArmor may confine named: AppArmor is
// enabled and a named profile is in enforce mode, or the profiles cannot
// be read.
func namedConfined() bool {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	if err != nil || !strings.HasPrefix(string(b), "Y") {
		return false
	}
	profiles, err := os.ReadFile("/sys/kernel/security/apparmor/profiles")
	if err != nil {
		return true
	}
	for _, line := range strings.Split(string(profiles), "\n") {
		if strings.Contains(line, "named") && strings.Contains(line, "(enforce)") {
			return true
		}
	}
	return false
}

// populate makes the keys, the zone files and the directories, and
// checks that bind can reach them.
func (n *NamedServer) populate(bindUID, bindGID int) error {
	if err := reachableDir(n.Dir, "the bind user"); err != nil {
		return err
	}
	// named writes the zone files back (after updates), their journals,
	// its PID file and session key here, as bind.
	if err := mkdirOwned(n.dataDir, bindUID, bindGID); err != nil {
		return err
	}
	keysDir := filepath.Join(n.Dir, "keys")
	if err := os.Mkdir(keysDir, 0o700); err != nil {
		return err
	}
	keygen, err := namedProgram("tsig-keygen")
	if err != nil {
		return err
	}
	var keysConf strings.Builder
	keysConf.WriteString("# Written by the mailplan test bed (resources/testbed).\n")
	for _, alg := range n.algorithms {
		name := "mailplan-" + alg
		out, err := n.runLogged(10*time.Second, nil, keygen, "-a", alg, name)
		if err != nil {
			return fmt.Errorf("tsig-keygen -a %s %s: %v\n%s", alg, name, err, out)
		}
		clause, secret, err := parseKeygen(out)
		if err != nil {
			return fmt.Errorf("tsig-keygen -a %s: %v", alg, err)
		}
		k := TSIGKey{
			Name: name + ".", Algorithm: alg, Secret: secret,
			SecretFile: filepath.Join(keysDir, alg+".secret"),
			KeyFile:    filepath.Join(keysDir, alg+".key"),
		}
		if err := os.WriteFile(k.SecretFile, []byte(secret+"\n"), 0o600); err != nil {
			return err
		}
		if err := os.WriteFile(k.KeyFile, []byte(clause), 0o600); err != nil {
			return err
		}
		keysConf.WriteString(clause)
		n.Keys[alg] = k
	}
	// named reads it as root at start; bind may read it too (reload).
	keysPath := filepath.Join(n.Dir, "keys.conf")
	if err := os.WriteFile(keysPath, []byte(keysConf.String()), 0o640); err != nil {
		return err
	}
	if err := os.Chown(keysPath, 0, bindGID); err != nil {
		return err
	}
	for _, z := range n.Zones {
		path := n.zoneFile(z)
		if err := os.WriteFile(path, []byte(zoneFileText(z, n.Addr)), 0o644); err != nil {
			return err
		}
		if err := os.Chown(path, bindUID, bindGID); err != nil {
			return err
		}
	}
	return nil
}

// parseKeygen returns tsig-keygen's output without its comments, and the
// secret in it.
func parseKeygen(out string) (clause, secret string, err error) {
	var b strings.Builder
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "$ ") || strings.TrimSpace(line) == "" {
			continue // runLogged's command line
		}
		b.WriteString(line + "\n")
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "secret" {
			secret = strings.TrimSuffix(strings.Trim(strings.TrimSuffix(f[1], ";"), `"`), `"`)
		}
	}
	if secret == "" {
		return "", "", fmt.Errorf("no secret in its output")
	}
	return b.String(), secret, nil
}

func (n *NamedServer) zoneFile(zone string) string {
	return filepath.Join(n.dataDir, strings.TrimSuffix(zone, ".")+".db")
}

// zoneFileText is the zone file of zone: NamedZoneRecords.
func zoneFileText(zone, addr string) string {
	var b strings.Builder
	b.WriteString("; Written by the mailplan test bed (resources/testbed).\n")
	fmt.Fprintf(&b, "$ORIGIN %s\n$TTL %d\n", zone, NamedTTL)
	for _, r := range NamedZoneRecords(zone, addr) {
		fmt.Fprintf(&b, "%s\t%d\tIN\t%s\t%s\n", r.Name, r.TTL, r.Type, r.Data)
	}
	return b.String()
}

// writeConfig writes named.conf for n.Port.
func (n *NamedServer) writeConfig() error {
	var keyNames []string
	for _, alg := range n.algorithms {
		keyNames = append(keyNames, fmt.Sprintf("key %q;", n.Keys[alg].Name))
	}
	allowUpdate := strings.Join(keyNames, " ")
	d := n.dataDir
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by the mailplan test bed (resources/testbed).
options {
	directory %q;
	pid-file %q;
	lock-file none;
	session-keyfile %q;
	managed-keys-directory %q;
	listen-on port %d { %s; };
	listen-on-v6 { none; };
	recursion no;
	allow-recursion { none; };
	allow-query { any; };
	dnssec-validation no;
	notify no;
	allow-transfer { none; };
	querylog no;
};
# No rndc channel.
controls { };
include %q;
`, d, filepath.Join(d, "named.pid"), filepath.Join(d, "session.key"), d, n.Port, n.Addr, filepath.Join(n.Dir, "keys.conf"))
	for _, z := range n.Zones {
		fmt.Fprintf(&b, "zone %q {\n\ttype primary;\n\tfile %q;\n\tallow-update { %s };\n};\n", z, n.zoneFile(z), allowUpdate)
	}
	return os.WriteFile(n.ConfigPath, []byte(b.String()), 0o644)
}

// freeDNSPort returns a port free on addr for both TCP and UDP at the
// time of the call.
func freeDNSPort(addr string) (int, error) {
	var lastErr error
	for i := 0; i < 10; i++ {
		port, err := freePortOn(addr)
		if err != nil {
			return 0, err
		}
		c, err := net.ListenPacket("udp4", net.JoinHostPort(addr, strconv.Itoa(port)))
		if err == nil {
			c.Close()
			return port, nil
		}
		lastErr = err
	}
	return 0, lastErr
}

// start starts named and waits until it serves every zone's SOA. retry
// is true when it failed for want of its port.
func (n *NamedServer) start() (retry bool, err error) {
	named, err := namedProgram("named")
	if err != nil {
		return false, err
	}
	return n.daemon.start(launch{
		// -g: foreground, logging to standard error only (our log file);
		// -4: IPv4 only; -n 1: one worker, enough for a test.
		argv: []string{named, "-g", "-4", "-n", "1", "-u", "bind", "-c", n.ConfigPath},
		proc: Process{
			Kind: "named", Name: "named",
			Config: n.ConfigPath, PIDFile: filepath.Join(n.dataDir, "named.pid"), Dir: n.Dir,
		},
		logPath:   n.LogPath,
		logMode:   0o644,
		ready:     n.ready,
		serving:   "serving on " + n.Server(),
		timeout:   20 * time.Second,
		portTaken: portTaken,
	})
}

// portTaken reports whether named's log says it could not bind its port
// (it then exits: "creating IPv4 interface lo failed; interface
// ignored", "unable to listen on any configured interfaces").
func portTaken(log string) bool {
	return strings.Contains(log, "address in use") || strings.Contains(log, "unable to listen on any configured interfaces")
}

// ready checks that every zone's SOA is served, authoritatively, over UDP.
func (n *NamedServer) ready() error {
	for _, z := range n.Zones {
		a, err := n.query(z, "SOA", 1)
		if err != nil {
			return err
		}
		if a.Status != "NOERROR" || !a.Authoritative || len(a.RData) != 1 {
			return fmt.Errorf("SOA %s: %s, authoritative %v, %d records", z, a.Status, a.Authoritative, len(a.RData))
		}
	}
	return nil
}

// Server is "Addr:Port", where named listens (a dns_server's address).
func (n *NamedServer) Server() string {
	return net.JoinHostPort(n.Addr, strconv.Itoa(n.Port))
}

// Process identifies named, to stop it from another process (see
// Process.Stop).
func (n *NamedServer) Process() Process { return n.proc }

// Close stops named and removes its directory (zone files, journals,
// keys, log). Calling it again does nothing and returns the same error.
func (n *NamedServer) Close() error {
	return n.closeDir(n.Dir)
}

// fqdn adds the final dot to name when it lacks it.
func fqdn(name string) string {
	if strings.HasSuffix(name, ".") {
		return name
	}
	return name + "."
}

func (n *NamedServer) label() string { return "named" }

func (n *NamedServer) logs() []serverLog {
	return []serverLog{{title: "named log", path: n.LogPath}, {title: "dig and nsupdate", path: n.cmdLog}}
}
