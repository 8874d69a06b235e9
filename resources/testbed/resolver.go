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
	"strconv"
	"strings"
	"testing"
	"time"
)

// ResolverOptions configures the caching resolver StartResolver starts.
type ResolverOptions struct {
	// Upstream is "ADDR:PORT" of the server every query is forwarded to,
	// typically a NamedServer's Server(); ADDR must be in 127.0.0.0/8.
	Upstream string
	// Addr is the loopback address the resolver listens on, UDP and TCP;
	// default "127.0.0.5". Only 127.0.0.0/8 is allowed.
	Addr string
	// Dir is the directory for its configuration, cache files and log,
	// as NamedOptions.Dir.
	Dir string
}

// ResolverServer is a running BIND 9 named in resolver mode: it answers
// recursive queries on Addr:Port by forwarding them to Upstream, and
// caches the answers for their TTL (negative answers for the SOA's), as
// the resolvers the world uses do. It never asks any other server.
type ResolverServer struct {
	// Addr and Port are where it listens (see Server).
	Addr string
	Port int
	// Upstream is where it forwards every query.
	Upstream string
	// Dir holds all of its files; LogPath is its log (standard error,
	// -g); ConfigPath its named.conf.
	Dir, LogPath, ConfigPath string

	dataDir string
	daemon
}

// resolverVersion is what the resolver answers to version.bind CH TXT:
// the positive marker that it serves.
const resolverVersion = "mailplan-testbed-resolver"

// Resolver starts a caching resolver forwarding to upstream for the test
// (see StartResolver), on 127.0.0.5 and a free port; it is stopped and
// its directory removed when the test ends, its log shown when the test
// failed. Without root or BIND the test is skipped, or fails when Strict.
func Resolver(t testing.TB, upstream string) *ResolverServer {
	t.Helper()
	return startForTest(t, StartResolver, ResolverOptions{Upstream: upstream})
}

// StartResolver starts named (-g -u bind, in its own session, its output
// in LogPath) as a caching resolver on opts.Addr and a free port:
// recursion for loopback clients only, every query forwarded to
// opts.Upstream ("forward only", so it never asks a root server), no
// DNSSEC validation (the test zones are unsigned), no prefetch and no
// stale answers, so that a cached answer is served exactly until its TTL
// runs out. It returns once it answers a query. Close stops it and
// removes its directory. Its error matches ErrUnavailable without root
// or BIND; mistakes in opts are reported first, on any machine.
func StartResolver(opts ResolverOptions) (*ResolverServer, error) {
	addr, err := loopbackAddr("resolver", cmp.Or(opts.Addr, "127.0.0.5"))
	if err != nil {
		return nil, err
	}
	upHost, upPort, err := net.SplitHostPort(opts.Upstream)
	if err != nil {
		return nil, fmt.Errorf("resolver test bed: upstream %q is not ADDR:PORT", opts.Upstream)
	}
	if upHost, err = loopbackAddr("resolver", upHost); err != nil {
		return nil, err
	}
	if p, err := strconv.Atoi(upPort); err != nil || p < 1 || p > 65535 {
		return nil, fmt.Errorf("resolver test bed: upstream port %q is not a port", upPort)
	}
	if opts.Dir != "" && !safePathRE.MatchString(opts.Dir) {
		return nil, fmt.Errorf("resolver test bed: directory %q may hold only letters, digits and /._+-", opts.Dir)
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
		dir, err = os.MkdirTemp("/var/lib/bind", "mailplan-resolver-")
		if err == nil {
			err = os.Chmod(dir, 0o755)
		}
	} else {
		dir, err = makeServerDir(opts.Dir, "mailplan-resolver-", 0o755)
	}
	if err != nil {
		return nil, fmt.Errorf("resolver test bed: %w", err)
	}
	r := &ResolverServer{
		Addr:       addr,
		Upstream:   net.JoinHostPort(upHost, upPort),
		Dir:        dir,
		LogPath:    filepath.Join(dir, "named.log"),
		ConfigPath: filepath.Join(dir, "named.conf"),
		dataDir:    filepath.Join(dir, "data"),
		daemon:     daemon{exited: make(chan struct{})},
	}
	close(r.exited) // nothing to wait for until named starts
	if err := reachableDir(dir, "the bind user"); err != nil {
		return nil, errors.Join(fmt.Errorf("resolver test bed: %w", err), r.Close())
	}
	if err := mkdirOwned(r.dataDir, bindUID, bindGID); err != nil {
		return nil, errors.Join(fmt.Errorf("resolver test bed: %w", err), r.Close())
	}
	if err := ensureLoopbackAddr(r.Addr); err != nil {
		return nil, errors.Join(fmt.Errorf("resolver test bed: %w", err), r.Close())
	}
	err = onFreePort(func() (int, error) { return freeDNSPort(r.Addr) }, func(port int) (bool, error) {
		r.Port = port
		if err := r.writeConfig(upHost, upPort); err != nil {
			return false, err
		}
		return r.start()
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("start resolver: %v", err), r.Close())
	}
	return r, nil
}

// writeConfig writes named.conf for r.Port.
func (r *ResolverServer) writeConfig(upHost, upPort string) error {
	d := r.dataDir
	conf := fmt.Sprintf(`# Written by the mailplan test bed (resources/testbed).
options {
	directory %q;
	pid-file %q;
	lock-file none;
	session-keyfile %q;
	managed-keys-directory %q;
	listen-on port %d { %s; };
	listen-on-v6 { none; };
	version %q;
	recursion yes;
	allow-recursion { 127.0.0.0/8; };
	allow-query { 127.0.0.0/8; };
	allow-query-cache { 127.0.0.0/8; };
	forward only;
	forwarders { %s port %s; };
	dnssec-validation no;
	# A cached answer is served until its TTL runs out, and not a moment
	# longer or shorter: no refresh before expiry, no stale answers.
	prefetch 0;
	stale-answer-enable no;
	stale-cache-enable no;
	notify no;
	allow-transfer { none; };
	querylog no;
};
# No rndc channel.
controls { };
`, d, filepath.Join(d, "named.pid"), filepath.Join(d, "session.key"), d, r.Port, r.Addr, resolverVersion, upHost, upPort)
	return os.WriteFile(r.ConfigPath, []byte(conf), 0o644)
}

// start starts named and waits until it answers a query. retry is true
// when it failed for want of its port.
func (r *ResolverServer) start() (retry bool, err error) {
	named, err := namedProgram("named")
	if err != nil {
		return false, err
	}
	return r.daemon.start(launch{
		argv: []string{named, "-g", "-4", "-n", "1", "-u", "bind", "-c", r.ConfigPath},
		proc: Process{
			Kind: "named", Name: "resolver",
			Config: r.ConfigPath, PIDFile: filepath.Join(r.dataDir, "named.pid"), Dir: r.Dir,
		},
		logPath:   r.LogPath,
		logMode:   0o644,
		ready:     r.ready,
		serving:   "serving on " + r.Server(),
		timeout:   20 * time.Second,
		portTaken: portTaken,
	})
}

// ready asks version.bind CH TXT, which named answers itself, with the
// version the configuration sets: it proves this resolver serves without
// putting anything in its cache.
func (r *ResolverServer) ready() error {
	a, err := r.dig(1, "+norecurse", "version.bind", "TXT", "CH")
	if err != nil {
		return err
	}
	if a.Status != "NOERROR" || len(a.RData) != 1 || a.RData[0] != strconv.Quote(resolverVersion) {
		return fmt.Errorf("version.bind: %s %q", a.Status, a.RData)
	}
	return nil
}

// Query asks the resolver for name's records of rtype as a stub resolver
// does (dig +recurse @Addr -p Port, UDP): the answer comes from its cache
// or, when the cache has none, from Upstream, and is cached. The error is
// for no answer or dig failing; a SERVFAIL or NXDOMAIN is an answer. TTL
// is what the cache has left.
func (r *ResolverServer) Query(name, rtype string) (DNSAnswer, error) {
	return r.dig(2, "+recurse", fqdn(name), strings.ToUpper(rtype))
}

// Dig returns the TTL left and data of name's records of rtype as the
// resolver answers them (see Query); none for NXDOMAIN or no such
// records. Any other status than NOERROR or NXDOMAIN, or no answer,
// fails the test.
func (r *ResolverServer) Dig(t testing.TB, name, rtype string) (ttl uint32, rdata []string) {
	t.Helper()
	a, err := r.Query(name, rtype)
	if err != nil {
		t.Fatalf("resolver: %v", err)
	}
	if a.Status != "NOERROR" && a.Status != "NXDOMAIN" {
		t.Fatalf("dig @%s %s %s: %s", r.Server(), name, rtype, a.Status)
	}
	return a.TTL, a.RData
}

// dig runs dig against the resolver only; args are dig's flags, then
// name, type and class (optional). The type is the second argument
// after the flags.
func (r *ResolverServer) dig(tries int, args ...string) (DNSAnswer, error) {
	digPath, err := namedProgram("dig")
	if err != nil {
		return DNSAnswer{}, err
	}
	var rtype string
	for i, a := range args {
		if !strings.HasPrefix(a, "+") {
			if i+1 < len(args) {
				rtype = args[i+1]
			}
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	argv := append([]string{"-4", "+nosearch", "+time=1", "+tries=" + strconv.Itoa(tries),
		"+noall", "+comments", "+answer", "+nocookie", "@" + r.Addr, "-p", strconv.Itoa(r.Port)}, args...)
	cmd := exec.CommandContext(ctx, digPath, argv...)
	// No resolver configuration: dig must not look for any other server.
	cmd.Env = append(os.Environ(), "LOCALDOMAIN=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		return DNSAnswer{}, fmt.Errorf("dig @%s %s: %v\n%s", r.Server(), strings.Join(args, " "), err, out.Bytes())
	}
	return parseDig(out.String(), rtype)
}

// Server is "Addr:Port", where the resolver listens.
func (r *ResolverServer) Server() string {
	return net.JoinHostPort(r.Addr, strconv.Itoa(r.Port))
}

// Process identifies the resolver's named, to stop it from another
// process (see Process.Stop).
func (r *ResolverServer) Process() Process { return r.proc }

// Close stops the resolver and removes its directory. Calling it again
// does nothing and returns the same error.
func (r *ResolverServer) Close() error { return r.closeDir(r.Dir) }

func (r *ResolverServer) label() string { return "resolver" }

func (r *ResolverServer) logs() []serverLog {
	return []serverLog{{title: "resolver log", path: r.LogPath}}
}
