package testbed

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// PostfixOptions configures one Postfix instance started by Postfix.
type PostfixOptions struct {
	// Name is "old" or "new" (any [a-z0-9-]+ word): the instance's
	// myhostname is NAME.test, and its directory is named after it. Two
	// instances that exchange mail need distinct names, else Postfix
	// refuses the mail as looping "back to myself".
	Name string
	// Addr is the loopback address the smtpd listens on, e.g.
	// "127.0.0.2". Only 127.0.0.0/8 is allowed.
	Addr string
	// Domain is the virtual mailbox domain; default "example.com".
	Domain string
	// ExtraDomains are more virtual mailbox domains, with the same Users
	// (their Maildirs at MailDir/DOMAIN/LOCAL/ too).
	ExtraDomains []string
	// Users are the local parts that have a Maildir; default
	// {"user", "alice", "bob"}.
	Users []string
	// RelayHost, when set (e.g. "[127.0.0.3]:2525"), is relayhost: where
	// mail for anything not local goes. When empty, default_transport
	// and relay_transport are error:, so smtpd refuses such recipients
	// with 550 and anything queued otherwise (e.g. a BCC) bounces.
	RelayHost string
	// Dir is the directory for the instance's config, queue, data, mail
	// and log directories: created when missing, else it must be empty.
	// Close removes it. The postfix and nobody users must be able to
	// traverse every directory above it, and its path may hold only
	// letters, digits and /._+- (main.cf takes it verbatim). Default: a
	// new directory in the system's temporary directory.
	Dir string
}

// PostfixInstance is a running (or stopped) Postfix instance with its own
// configuration, queue, data and mail directories, all in one directory
// (Dir) that is removed when the test ends, or by Close.
type PostfixInstance struct {
	// Name is PostfixOptions.Name.
	Name string
	// Addr and Port are where the smtpd listens (see SMTPAddr).
	Addr string
	Port int
	// Domain is the (first) virtual mailbox domain.
	Domain string
	// Domains are all of them, Domain first.
	Domains []string
	// Users are the local parts with a Maildir.
	Users []string
	// ConfigDir holds main.cf, master.cf and the vmailbox table. Pass it
	// as -c to postconf, postmap, postqueue and postfix.
	ConfigDir string
	// QueueDir, DataDir are queue_directory and data_directory.
	QueueDir, DataDir string
	// MailDir is virtual_mailbox_base: user Maildirs are at
	// MailDir/DOMAIN/LOCAL/ (see Maildir).
	MailDir string
	// Hostname is myhostname, NAME.test.
	Hostname string
	// LogPath is maillog_file, worth reading when a test fails.
	LogPath string
	// Dir holds all of the above.
	Dir string

	cmdLog  string // output of postfix start and friends
	uid     int    // owner of the Maildirs (virtual_uid_maps)
	gid     int
	pid     int // the master's PID when last seen running, else 0
	postfix string
}

// mailboxUser owns the Maildirs and is the user virtual(8) delivers as:
// it refuses root, and nobody exists on every Debian machine.
const mailboxUser = "nobody"

var (
	postfixNameRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	postfixLocalRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._+-]*$`)
)

// RequireSbin is Require for a program that lives in /usr/sbin, which is
// not in every PATH.
func RequireSbin(t testing.TB, name string) string {
	t.Helper()
	if p, err := lookSbin(name); err == nil {
		return p
	}
	return Require(t, name)
}

// lookSbin looks name up in PATH, then in /usr/sbin.
func lookSbin(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err == nil {
		return p, nil
	}
	if p := "/usr/sbin/" + name; isExecutable(p) {
		return p, nil
	}
	return "", err
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// Postfix creates a Postfix instance for the test and starts it; it is
// stopped and its directory removed when the test ends. Everything it
// listens on or sends to is on loopback: it never looks up DNS, delivers
// to virtual Maildirs only, and refuses all other mail unless
// opts.RelayHost is set. Instances of parallel tests and packages do not
// share directories or ports.
//
// Postfix needs root (its master runs as root and changes to the
// postfix user): without root or without Postfix installed the test is
// skipped, or fails when Strict.
func Postfix(t testing.TB, opts PostfixOptions) *PostfixInstance {
	t.Helper()
	p, err := StartPostfix(opts)
	forTest(t, postfixCleanup{p}, err)
	return p
}

// StartPostfix is Postfix without a test: it creates the instance in
// opts.Dir and starts it. Close stops it and removes its directory. Its
// error matches ErrUnavailable when Postfix is not installed or the
// process is not root; mistakes in opts are reported first, on any
// machine.
func StartPostfix(opts PostfixOptions) (*PostfixInstance, error) {
	p, err := newPostfix(opts)
	if err != nil {
		return nil, err
	}
	dgramQueueOnce.Do(raiseDgramQueue)
	err = onFreePort(func() (int, error) { return freePortOn(p.Addr) }, func(port int) (bool, error) {
		p.Port = port
		if err := p.writeMasterCF(); err != nil {
			return false, err
		}
		return true, p.start()
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("start postfix %s: %v", p.Name, err), p.Close())
	}
	return p, nil
}

// dgramQueueOnce raises the datagram queue once per process.
var dgramQueueOnce sync.Once

// minDgramQueue is the shortest queue of a Unix datagram socket the
// instances' postlogd may have: systemd sets 512 on Debian; a machine
// without it (a container, CI) keeps the kernel's 10.
const minDgramQueue = 512

// raiseDgramQueue raises net.unix.max_dgram_qlen to minDgramQueue when it
// is lower. Each instance logs to its maillog through postlogd, a Unix
// datagram socket; with a queue of 10, a burst of log lines on a loaded
// machine (reloads, a dozen commands at once) fills it, and postlogd,
// logging a warning to its own socket, then blocks for ever, and with it
// every Postfix command of the instance (postfix status hung for 27
// minutes in a run with the machine at load 11). Best effort: where the
// setting cannot be written, the queue stays as it is.
func raiseDgramQueue() {
	const p = "/proc/sys/net/unix/max_dgram_qlen"
	b, err := os.ReadFile(p)
	if err != nil {
		return
	}
	if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n < minDgramQueue {
		_ = os.WriteFile(p, []byte(strconv.Itoa(minDgramQueue)), 0o644)
	}
}

// postfixCleanup is an instance as forTest stops it: only when it
// runs (a test may have stopped it).
type postfixCleanup struct{ *PostfixInstance }

func (c postfixCleanup) stop() error { return c.stopIfRunning() }

// safePathRE matches paths main.cf takes verbatim: no $, space or comma.
var safePathRE = regexp.MustCompile(`^[A-Za-z0-9/._+-]+$`)

// newPostfix checks opts and writes the instance's directories, main.cf
// and mailbox table.
func newPostfix(opts PostfixOptions) (*PostfixInstance, error) {
	// Mistakes in the options first, so that they show on any machine.
	if !postfixNameRE.MatchString(opts.Name) {
		return nil, fmt.Errorf("postfix test bed: name %q is not a lower-case word", opts.Name)
	}
	addr, err := loopbackAddr("postfix", opts.Addr)
	if err != nil {
		return nil, err
	}
	if opts.Domain == "" {
		opts.Domain = "example.com"
	}
	if opts.Users == nil {
		opts.Users = []string{"user", "alice", "bob"}
	}
	for _, u := range opts.Users {
		if !postfixLocalRE.MatchString(u) {
			return nil, fmt.Errorf("postfix test bed: local part %q is not a plain lower-case word", u)
		}
	}
	domains := []string{opts.Domain}
	for _, d := range opts.ExtraDomains {
		if !postfixLocalRE.MatchString(d) || !strings.Contains(d, ".") || slices.Contains(domains, d) {
			return nil, fmt.Errorf("postfix test bed: domain %q is not a lower-case DNS name, or is listed twice", d)
		}
		domains = append(domains, d)
	}
	if strings.ContainsAny(opts.RelayHost, " \t\n,$") {
		return nil, fmt.Errorf("postfix test bed: relay host %q has spaces, commas or $", opts.RelayHost)
	}
	if opts.Dir != "" && !safePathRE.MatchString(opts.Dir) {
		return nil, fmt.Errorf("postfix test bed: directory %q may hold only letters, digits and /._+-", opts.Dir)
	}
	postfix, err := lookSbin("postfix")
	if err == nil {
		_, err = lookSbin("postconf")
	}
	if err != nil {
		return nil, unavailable{fmt.Sprintf("postfix not available: %v", err)}
	}
	if os.Geteuid() != 0 {
		return nil, unavailable{"the Postfix test bed needs root"}
	}
	uid, gid, err := lookupIDs(mailboxUser)
	if err != nil {
		return nil, err
	}
	postfixUID, _, err := lookupIDs("postfix")
	if err != nil {
		return nil, err
	}

	// Not t.TempDir: its parent is mode 0700 (postfix and nobody must
	// traverse it) and its name follows the test's, which may hold $, a
	// space or a comma, all special in main.cf.
	dir, err := makeServerDir(opts.Dir, "mailplan-postfix-"+opts.Name+"-", 0o755)
	if err != nil {
		return nil, fmt.Errorf("postfix test bed: %w", err)
	}
	p := &PostfixInstance{
		Name:      opts.Name,
		Addr:      addr,
		Domain:    opts.Domain,
		Domains:   domains,
		Users:     append([]string(nil), opts.Users...),
		ConfigDir: filepath.Join(dir, "config"),
		QueueDir:  filepath.Join(dir, "queue"),
		DataDir:   filepath.Join(dir, "data"),
		MailDir:   filepath.Join(dir, "mail"),
		Hostname:  opts.Name + ".test",
		LogPath:   filepath.Join(dir, "log", "maillog"),
		Dir:       dir,
		cmdLog:    filepath.Join(dir, "log", "commands.log"),
		uid:       uid,
		gid:       gid,
		postfix:   postfix,
	}
	if err := p.populate(opts.RelayHost, postfixUID); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("postfix test bed: %w", err)
	}
	return p, nil
}

// populate checks that postfix and nobody can reach the instance's
// directory, and writes its directories, mailbox table and main.cf.
func (p *PostfixInstance) populate(relayHost string, postfixUID int) error {
	if err := reachableDir(p.Dir, "the postfix and nobody users"); err != nil {
		return err
	}
	for _, d := range []string{p.ConfigDir, p.QueueDir, filepath.Dir(p.LogPath), p.MailDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	// data_directory must be owned by mail_owner.
	if err := os.Mkdir(p.DataDir, 0o700); err != nil {
		return err
	}
	if err := os.Chown(p.DataDir, postfixUID, -1); err != nil {
		return err
	}
	// The Maildirs and the domain directory above them belong to the
	// delivering user, as virtual(8) creates files as that user.
	var vmailbox strings.Builder
	for _, d := range p.Domains {
		if err := mkdirOwned(filepath.Join(p.MailDir, d), p.uid, p.gid); err != nil {
			return err
		}
		for _, u := range p.Users {
			for _, sub := range []string{"", "tmp", "new", "cur"} {
				if err := mkdirOwned(filepath.Join(p.MaildirIn(d, u), sub), p.uid, p.gid); err != nil {
					return err
				}
			}
			// The trailing slash makes virtual(8) deliver in Maildir format.
			fmt.Fprintf(&vmailbox, "%s@%s %s/%s/\n", u, d, d, u)
		}
	}
	vmailboxPath := filepath.Join(p.ConfigDir, "vmailbox")
	if err := os.WriteFile(vmailboxPath, []byte(vmailbox.String()), 0o644); err != nil {
		return err
	}
	mainCF := filepath.Join(p.ConfigDir, "main.cf")
	if err := os.WriteFile(mainCF, []byte(p.mainCF(relayHost)), 0o644); err != nil {
		return err
	}
	// Postfix reads main.cf and texthash tables with a loop that rereads
	// a file modified in the last ~2 s every 300 ms until it is older:
	// a fresh main.cf delays every command ~1.5 s, a fresh vmailbox the
	// first smtpd's greeting. Nobody edits these concurrently: backdate
	// them rather than pay that at every start.
	return backdate(mainCF, vmailboxPath)
}

// Close stops the instance when it runs and removes its directory.
// Calling it again only removes what is left of the directory.
func (p *PostfixInstance) Close() error {
	return errors.Join(p.stopIfRunning(), os.RemoveAll(p.Dir))
}

// stopIfRunning stops the instance when its master runs.
func (p *PostfixInstance) stopIfRunning() error {
	if !p.Running() {
		return nil
	}
	return p.stop()
}

// Process identifies the instance's master as it runs now, to stop the
// instance from another process. ok is false when it does not run.
func (p *PostfixInstance) Process() (pr Process, ok bool) {
	if !p.Running() {
		return Process{}, false
	}
	st, err := procStartTime(p.pid)
	if err != nil {
		return Process{}, false
	}
	return Process{
		Kind: "postfix", Name: p.Name, PID: p.pid, StartTime: st,
		Config: p.ConfigDir, PIDFile: filepath.Join(p.QueueDir, "pid", "master.pid"), Dir: p.Dir,
	}, true
}

// backdate sets the modification time of files to 5 s ago.
func backdate(paths ...string) error {
	old := time.Now().Add(-5 * time.Second)
	for _, p := range paths {
		if err := os.Chtimes(p, old, old); err != nil {
			return err
		}
	}
	return nil
}

func mkdirOwned(d string, uid, gid int) error {
	if err := os.Mkdir(d, 0o700); err != nil {
		return err
	}
	return os.Chown(d, uid, gid)
}

func lookupIDs(name string) (uid, gid int, err error) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, fmt.Errorf("postfix test bed: user %s: %w", name, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, fmt.Errorf("postfix test bed: user %s: %w", name, err)
	}
	return uid, gid, nil
}

// mainCF is the instance's main.cf. Each line is chosen so that the
// instance touches nothing outside its directory and loopback.
func (p *PostfixInstance) mainCF(relayHost string) string {
	nowhere := "error:no outbound mail in the test bed"
	defaultTransport, relayTransport := nowhere, nowhere
	if relayHost != "" {
		defaultTransport, relayTransport = "smtp", "relay"
	}
	lines := []string{
		"# Written by the mailplan test bed (resources/testbed).",
		"compatibility_level = 3.6",
		"queue_directory = " + p.QueueDir,
		"data_directory = " + p.DataDir,
		"mail_owner = postfix",
		"setgid_group = postdrop",
		"",
		"# Distinct per instance: the SMTP client refuses a server greeting",
		"# with its own name (\"mail loops back to myself\").",
		"myhostname = " + p.Hostname,
		"myorigin = $myhostname",
		"mydestination =",
		"inet_interfaces = loopback-only",
		"inet_protocols = ipv4",
		"mynetworks = 127.0.0.0/8",
		"smtp_bind_address = " + p.Addr,
		"",
		"# No syslog here: postlogd (master.cf) writes the log.",
		"maillog_file = " + p.LogPath,
		"maillog_file_prefixes = " + filepath.Dir(p.LogPath),
		"",
		"# Nothing leaves loopback: no DNS, no delivery but to the Maildirs",
		"# (or the relay host given).",
		"disable_dns_lookups = yes",
		"smtp_dns_support_level = disabled",
		"lmtp_dns_support_level = disabled",
		"smtp_host_lookup = native",
		"lmtp_host_lookup = native",
		"smtpd_peername_lookup = no",
		"relayhost = " + relayHost,
		"default_transport = " + defaultTransport,
		"relay_transport = " + relayTransport,
		"local_transport = error:no local delivery in the test bed",
		"alias_maps =",
		"alias_database =",
		"",
		"virtual_mailbox_domains = " + strings.Join(p.Domains, " "),
		"virtual_mailbox_base = " + p.MailDir,
		"virtual_mailbox_maps = texthash:" + filepath.Join(p.ConfigDir, "vmailbox"),
		"virtual_uid_maps = static:" + strconv.Itoa(p.uid),
		"virtual_gid_maps = static:" + strconv.Itoa(p.gid),
		"virtual_minimum_uid = " + strconv.Itoa(min(p.uid, 100)),
		"",
		"# Deferred mail is tried again within seconds, not minutes: a test",
		"# that stops a server and starts it again sees the queue drain.",
		"queue_run_delay = 1s",
		"minimal_backoff_time = 1s",
		"maximal_backoff_time = 2s",
		"",
		"smtputf8_enable = no",
		"biff = no",
		"append_dot_mydomain = no",
	}
	return strings.Join(lines, "\n") + "\n"
}

// writeMasterCF writes the instance's master.cf: Debian's services, none
// chrooted (the chroot would lack the instance's files), the SMTP server
// on Addr:Port only, and postlog for maillog_file. No tlsmgr: the test
// bed has no TLS.
func (p *PostfixInstance) writeMasterCF() error {
	const services = `# service type  private unpriv  chroot  wakeup  maxproc command + args
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
        -o syslog_name=postfix/$service_name
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`
	smtpd := fmt.Sprintf("%s:%d inet n - n - - smtpd\n", p.Addr, p.Port)
	path := filepath.Join(p.ConfigDir, "master.cf")
	return os.WriteFile(path, []byte("# Written by the mailplan test bed (resources/testbed).\n"+smtpd+services), 0o644)
}

// SMTPAddr is "Addr:Port", where the smtpd listens.
func (p *PostfixInstance) SMTPAddr() string {
	return net.JoinHostPort(p.Addr, strconv.Itoa(p.Port))
}

// Start starts the instance (postfix -c DIR start) and waits until its
// smtpd answers with a 220 greeting. The port stays the same.
func (p *PostfixInstance) Start(t testing.TB) {
	t.Helper()
	if err := p.start(); err != nil {
		t.Fatalf("start postfix %s: %v", p.Name, err)
	}
}

func (p *PostfixInstance) start() error {
	if p.Running() {
		return fmt.Errorf("already running (master PID %d)", p.pid)
	}
	// postfix start returns once the master has bound its sockets and
	// started (master -w). Its output goes to a file: the master inherits
	// it, and a pipe held open would make the command look unfinished.
	if out, err := p.runLogged(30*time.Second, p.postfix, "-c", p.ConfigDir, "start"); err != nil {
		return fmt.Errorf("postfix -c %s start: %v\n%s%s\nmaillog:\n%s", p.ConfigDir, err, out, p.diagnose(), p.logTail(30))
	}
	pid, err := p.masterPID()
	if err != nil {
		return err
	}
	p.pid = pid
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := smtpGreeting(p.SMTPAddr())
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("smtpd on %s: %v\nmaillog:\n%s", p.SMTPAddr(), err, p.logTail(30))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// smtpGreeting connects to addr, reads a 220 greeting and says QUIT: the
// server is ready to take mail (the first smtpd has started and opened
// its tables).
func smtpGreeting(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("read greeting: %w", err)
	}
	if !strings.HasPrefix(line, "220") {
		return fmt.Errorf("greeting %q", line)
	}
	_, err = c.Write([]byte("QUIT\r\n"))
	return err
}

// diagnose returns what postfix check says, run on a pseudo-terminal:
// postfix(1) writes its errors to standard error only when that is a
// terminal, and to the maillog only through postlogd, which is not
// running when start fails early (e.g. "parameter inet_interfaces: no
// local interface found"). It uses script(1) from util-linux, and
// returns "" without it.
func (p *PostfixInstance) diagnose() string {
	script, err := exec.LookPath("script")
	if err != nil {
		return ""
	}
	out, _ := p.runLogged(20*time.Second, script, "-qec", shellQuote(p.postfix)+" -c "+shellQuote(p.ConfigDir)+" check", "/dev/null")
	return "postfix check on a terminal says:\n" + out
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// runLogged runs a command with its output appended to the instance's
// command log, and returns what it wrote there.
func (p *PostfixInstance) runLogged(timeout time.Duration, name string, args ...string) (string, error) {
	f, err := os.OpenFile(p.cmdLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return "", err
	}
	defer f.Close()
	start, _ := f.Seek(0, 2)
	fmt.Fprintf(f, "$ %s %s\n", name, strings.Join(args, " "))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.WaitDelay = time.Second
	runErr := cmd.Run()
	out, _ := os.ReadFile(p.cmdLog)
	if int(start) <= len(out) {
		out = out[start:]
	}
	return string(out), runErr
}

// masterPID reads the master's PID file, queue_directory/pid/master.pid.
func (p *PostfixInstance) masterPID() (int, error) {
	b, err := os.ReadFile(filepath.Join(p.QueueDir, "pid", "master.pid"))
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("master.pid holds %q", b)
	}
	return pid, nil
}

// Running reports whether the instance's master is alive. It follows
// the master's PID file, so that a master started or stopped with
// postfix -c ConfigDir start/stop (e.g. by code under test) counts too.
func (p *PostfixInstance) Running() bool {
	if p.pid > 0 && p.isOurMaster(p.pid) {
		return true
	}
	p.pid = 0
	if pid, err := p.masterPID(); err == nil && p.isOurMaster(pid) {
		p.pid = pid
		return true
	}
	return false
}

// isOurMaster reports whether pid is a live (not zombie) Postfix master
// serving this instance's configuration directory: a PID is checked
// before it is signalled, as it may have been reused.
func (p *PostfixInstance) isOurMaster(pid int) bool {
	return isPostfixMaster(pid, p.ConfigDir)
}

// Stop stops the instance and waits until its master and every process
// it started have exited. It sends SIGTERM to the master, as postfix
// stop does, without that command's one-second polling; the master
// passes it on to its process group. After 10 s it kills the group. Stop
// of an instance that is not running fails the test.
func (p *PostfixInstance) Stop(t testing.TB) {
	t.Helper()
	if !p.Running() {
		t.Fatalf("stop postfix %s: not running", p.Name)
	}
	if err := p.stop(); err != nil {
		if errors.Is(err, errMasterKilled) {
			t.Errorf("stop postfix %s: %v", p.Name, err)
			return
		}
		t.Fatalf("stop postfix %s: %v", p.Name, err)
	}
}

// stop stops the running instance (Running was checked: p.pid is its
// master, not a reused PID).
func (p *PostfixInstance) stop() error {
	pid := p.pid
	p.pid = 0
	return stopPostfixMaster(pid, 10*time.Second)
}

// Postconf runs postconf -c ConfigDir args... and returns its standard
// output. Warnings on standard error are logged; a failure fails the
// test. Note that a command reading a main.cf changed less than ~2 s ago
// (e.g. after postconf -e) sleeps ~1.5 s first.
func (p *PostfixInstance) Postconf(t testing.TB, args ...string) string {
	t.Helper()
	return p.command(t, "postconf", args...)
}

// Postmap runs postmap -c ConfigDir args..., e.g. Postmap(t,
// "hash:/path/transport"), and returns its standard output (for -q).
func (p *PostfixInstance) Postmap(t testing.TB, args ...string) string {
	t.Helper()
	return p.command(t, "postmap", args...)
}

// Reload runs postfix -c ConfigDir reload: the running master re-reads
// main.cf and master.cf.
func (p *PostfixInstance) Reload(t testing.TB) {
	t.Helper()
	if out, err := p.runLogged(30*time.Second, p.postfix, "-c", p.ConfigDir, "reload"); err != nil {
		t.Fatalf("postfix -c %s reload: %v\n%s", p.ConfigDir, err, out)
	}
}

func (p *PostfixInstance) command(t testing.TB, name string, args ...string) string {
	t.Helper()
	bin := RequireSbin(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-c", p.ConfigDir}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s -c %s %s: %v\n%s", name, p.ConfigDir, strings.Join(args, " "), err, stderr.Bytes())
	}
	if stderr.Len() > 0 {
		t.Logf("%s -c %s %s: %s", name, p.ConfigDir, strings.Join(args, " "), stderr.Bytes())
	}
	return stdout.String()
}

// Maildir is the path of the Maildir of local@Domain (without a
// trailing slash).
func (p *PostfixInstance) Maildir(local string) string {
	return p.MaildirIn(p.Domain, local)
}

// MaildirIn is the Maildir of local@domain, one of Domains.
func (p *PostfixInstance) MaildirIn(domain, local string) string {
	return filepath.Join(p.MailDir, domain, local)
}

// Messages returns every message in the Maildir of local@Domain, new/
// then cur/, each in file name order (delivery order within a second).
func (p *PostfixInstance) Messages(local string) [][]byte {
	var msgs [][]byte
	for _, sub := range []string{"new", "cur"} {
		d := filepath.Join(p.Maildir(local), sub)
		entries, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		names := make([]string, 0, len(entries))
		for _, e := range entries {
			if e.Type().IsRegular() {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
		for _, n := range names {
			if b, err := os.ReadFile(filepath.Join(d, n)); err == nil {
				msgs = append(msgs, b)
			}
		}
	}
	return msgs
}

// WaitForMail waits until a message holding needle is in the Maildir of
// local@Domain and returns it. On timeout the test fails with the tail of
// the maillog.
func (p *PostfixInstance) WaitForMail(t testing.TB, local, needle string, timeout time.Duration) []byte {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, m := range p.Messages(local) {
			if bytes.Contains(m, []byte(needle)) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("postfix %s: no message with %q in %s after %v; maillog tail:\n%s",
				p.Name, needle, p.Maildir(local), timeout, p.logTail(40))
			return nil
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// QueueEmpty reports whether the instance's queue holds no message
// (postqueue -j prints nothing).
func (p *PostfixInstance) QueueEmpty(t testing.TB) bool {
	t.Helper()
	return strings.TrimSpace(p.command(t, "postqueue", "-j")) == ""
}

// logTail returns the last n lines of the maillog.
func (p *PostfixInstance) logTail(n int) string {
	f, err := os.Open(p.LogPath)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64*1024), 1024*1024)
	for s.Scan() {
		lines = append(lines, s.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// freePortOn returns a TCP port free on addr at the time of the call.
func freePortOn(addr string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	tcp, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, fmt.Errorf("listener address %v is not TCP", l.Addr())
	}
	return tcp.Port, nil
}

func (c postfixCleanup) label() string { return "postfix " + c.Name }

func (c postfixCleanup) logs() []serverLog {
	return []serverLog{{title: c.label() + " maillog", path: c.LogPath}}
}
