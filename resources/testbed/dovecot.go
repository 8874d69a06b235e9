package testbed

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf16"
)

// DovecotOptions configures the Dovecot IMAP server StartDovecot starts.
type DovecotOptions struct {
	// Addr is the loopback address the IMAP service listens on; default
	// "127.0.0.3" (Postfix "new"'s address: the new server). Only
	// 127.0.0.0/8 is allowed.
	Addr string
	// MailRoot holds the users' homes: USER's Maildir is
	// MailRoot/USER/Maildir (mail_location = maildir:~/Maildir, with
	// Dovecot's control files, dovecot-uidlist among them, inside the
	// Maildir). Created when missing, as are the homes (owned by the mail
	// user); what is already there is left as it is, and must be owned by
	// the mail user (UID, GID) for Dovecot to read it. The mail user must
	// be able to search every directory above it. Default: Dir/mail.
	MailRoot string
	// Users are the users of the passwd-file; default {"alice", "bob",
	// "carol"} (the corpus's).
	Users []string
	// Password is every user's password; default "mailplan-test".
	Password string
	// MaildirIsHome makes each home the Maildir itself (mail_location =
	// maildir:~), so that MailRoot can be a Postfix virtual_mailbox_base
	// domain directory (BASE/DOMAIN, with Maildirs at BASE/DOMAIN/USER/)
	// and Dovecot serves what Postfix delivers.
	MaildirIsHome bool
	// Stopped writes the configuration and picks the port but does not
	// start Dovecot: a freshly installed server that a plan starts
	// (dovecot -c ConfigPath, see StartCommand). Close stops it when it
	// was started since.
	Stopped bool
	// Dir is the directory for the configuration, passwd-file, runtime
	// directories and log: created when missing, else it must be empty.
	// Close removes it. Default: a new directory in the system's
	// temporary directory.
	Dir string
}

// DovecotServer is a running Dovecot serving IMAP (no TLS, plain
// passwords) on Addr:Port for Users, whose Maildirs are under MailRoot.
type DovecotServer struct {
	// Addr and Port are where the IMAP service listens.
	Addr string
	Port int
	// ConfigPath is the configuration: doveadm -c ConfigPath talks to
	// this instance.
	ConfigPath string
	// Dir holds the configuration, passwd-file, runtime directories
	// (base_dir, state_dir) and log.
	Dir string
	// LogPath is Dovecot's log (log_path, and the master's output),
	// worth reading when a test fails.
	LogPath string
	// MailRoot holds the users' homes (see DovecotOptions.MailRoot).
	MailRoot string
	// Users and Password log in over IMAP.
	Users    []string
	Password string
	// UID and GID are the mail user's (nobody's): Dovecot accesses the
	// Maildirs as them, so the files must be owned by them.
	UID, GID int
	// PIDFile is where the master writes its PID (base_dir/master.pid).
	PIDFile string

	maildirIsHome bool

	doveadm string
	cmdLog  string // doveadm commands and their output
	daemon
}

// DovecotPath is where Debian's dovecot-core installs the master.
const DovecotPath = "/usr/sbin/dovecot"

// CheckDovecotAvailable reports what this machine lacks to run
// StartDovecot: root, dovecot (dovecot-core), its IMAP server
// (dovecot-imapd) and doveadm. Its error matches ErrUnavailable.
func CheckDovecotAvailable() error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (Dovecot's master runs as root)")
	}
	if !isExecutable(DovecotPath) {
		missing = append(missing, DovecotPath+" (dovecot-core)")
	}
	if _, err := lookSbin("doveadm"); err != nil {
		missing = append(missing, "doveadm (dovecot-core)")
	}
	if !isExecutable("/usr/lib/dovecot/imap") {
		missing = append(missing, "/usr/lib/dovecot/imap (dovecot-imapd)")
	}
	if len(missing) == 0 {
		return nil
	}
	return unavailable{"the Dovecot test bed needs " + strings.Join(missing, ", ")}
}

// Dovecot starts Dovecot for the test (see StartDovecot); it is stopped
// and its directory removed when the test ends, its log shown when the
// test failed. Without root or Dovecot the test is skipped, or fails
// when Strict.
func Dovecot(t testing.TB, opts DovecotOptions) *DovecotServer {
	t.Helper()
	d, err := StartDovecot(opts)
	if err != nil {
		skipOrFatal(t, err)
	}
	t.Cleanup(func() {
		if err := d.stop(); err != nil {
			t.Errorf("stop dovecot: %v", err)
		}
		if t.Failed() {
			t.Logf("dovecot log (%s):\n%s", d.LogPath, TailFile(d.LogPath, 60))
			t.Logf("doveadm (%s):\n%s", d.cmdLog, TailFile(d.cmdLog, 60))
		}
		if err := d.Close(); err != nil {
			t.Errorf("dovecot: %v", err)
		}
	})
	return d
}

// StartDovecot starts Dovecot's master (dovecot -F -c CONFIG, in its own
// session, its output in LogPath) with IMAP only on opts.Addr and a free
// port, users from a passwd-file with plain passwords, every user
// mapped to the mail user nobody, and returns once the IMAP greeting is
// served. Close stops it (every process it started) and removes Dir.
// Its error matches ErrUnavailable without root or Dovecot; mistakes in
// opts are reported first, on any machine.
func StartDovecot(opts DovecotOptions) (*DovecotServer, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.3"
	}
	ip := net.ParseIP(opts.Addr).To4()
	if ip == nil || ip[0] != 127 {
		return nil, fmt.Errorf("dovecot test bed: address %q is not in 127.0.0.0/8", opts.Addr)
	}
	if opts.Users == nil {
		opts.Users = []string{"alice", "bob", "carol"}
	}
	seen := map[string]bool{}
	for _, u := range opts.Users {
		if !postfixLocalRE.MatchString(u) || seen[u] {
			return nil, fmt.Errorf("dovecot test bed: user %q is not a lower-case name, or is listed twice", u)
		}
		seen[u] = true
	}
	if opts.Password == "" {
		opts.Password = "mailplan-test"
	}
	if strings.ContainsAny(opts.Password, ":\n\r\"\\ ") {
		return nil, errors.New("dovecot test bed: the password may not hold a colon, quote, backslash, space or line end")
	}
	for _, p := range []string{opts.Dir, opts.MailRoot} {
		if p != "" && !safeMailPathRE.MatchString(p) {
			return nil, fmt.Errorf("dovecot test bed: path %q may hold only letters, digits and /._+- (the configuration takes it verbatim)", p)
		}
	}
	if err := CheckDovecotAvailable(); err != nil {
		return nil, err
	}
	doveadm, err := lookSbin("doveadm")
	if err != nil {
		return nil, unavailable{"dovecot test bed: " + err.Error()}
	}
	uid, gid, err := lookupIDs(mailboxUser)
	if err != nil {
		return nil, err
	}
	dir, err := makeServerDir(opts.Dir, "mailplan-dovecot-", 0o755)
	if err != nil {
		return nil, fmt.Errorf("dovecot test bed: %w", err)
	}
	d := &DovecotServer{
		Addr:       ip.String(),
		ConfigPath: filepath.Join(dir, "dovecot.conf"),
		Dir:        dir,
		LogPath:    filepath.Join(dir, "dovecot.log"),
		MailRoot:   opts.MailRoot,
		Users:      append([]string(nil), opts.Users...),
		Password:   opts.Password,
		UID:        uid,
		GID:        gid,
		PIDFile:    filepath.Join(dir, "run", "master.pid"),
		doveadm:    doveadm,
		cmdLog:     filepath.Join(dir, "doveadm.log"),
		daemon:     daemon{exited: make(chan struct{})},

		maildirIsHome: opts.MaildirIsHome,
	}
	close(d.exited) // nothing to wait for until dovecot starts
	// Until it starts, the process to look for is the one a plan starts.
	d.proc = Process{Kind: "dovecot", Name: "dovecot", Config: d.ConfigPath, PIDFile: d.PIDFile, Dir: dir}
	if d.MailRoot == "" {
		d.MailRoot = filepath.Join(dir, "mail")
	}
	if d.MailRoot, err = filepath.Abs(d.MailRoot); err != nil {
		return nil, errors.Join(err, d.Close())
	}
	if err := d.populate(); err != nil {
		return nil, errors.Join(fmt.Errorf("dovecot test bed: %w", err), d.Close())
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		// Another process may take the port between freePortOn and
		// Dovecot's bind: try again with another one.
		port, err := freePortOn(d.Addr)
		if err == nil {
			d.Port = port
			err = os.WriteFile(d.ConfigPath, []byte(d.config()), 0o644)
		}
		if err != nil {
			lastErr = err
			break
		}
		if opts.Stopped {
			return d, nil
		}
		var retry bool
		if retry, lastErr = d.start(); lastErr == nil {
			return d, nil
		} else if !retry {
			break
		}
	}
	return nil, errors.Join(fmt.Errorf("start dovecot: %v", lastErr), d.Close())
}

// safeMailPathRE matches paths the configuration takes verbatim.
var safeMailPathRE = regexp.MustCompile(`^[A-Za-z0-9/._+-]+$`)

// populate writes the passwd-file and makes MailRoot and the homes.
func (d *DovecotServer) populate() error {
	var users strings.Builder
	for _, u := range d.Users {
		// user:password:uid:gid:(gecos):home:(shell)
		fmt.Fprintf(&users, "%s:{PLAIN}%s:%d:%d::%s::\n", u, d.Password, d.UID, d.GID, filepath.Join(d.MailRoot, u))
	}
	// Read by the auth process (user dovecot): test passwords only.
	if err := os.WriteFile(filepath.Join(d.Dir, "users"), []byte(users.String()), 0o644); err != nil {
		return err
	}
	if _, err := os.Stat(d.MailRoot); err != nil {
		if err := os.MkdirAll(d.MailRoot, 0o755); err != nil {
			return err
		}
	}
	if err := checkTraversable(d.MailRoot, d.UID, d.GID); err != nil {
		return fmt.Errorf("the mail user %s cannot reach %s: %w", mailboxUser, d.MailRoot, err)
	}
	for _, u := range d.Users {
		home := filepath.Join(d.MailRoot, u)
		if _, err := os.Lstat(home); err == nil {
			continue
		}
		if err := mkdirOwned(home, d.UID, d.GID); err != nil {
			return err
		}
	}
	return nil
}

// config is dovecot.conf: IMAP only, on Addr:Port only, everything in
// Dir.
func (d *DovecotServer) config() string {
	location := "maildir:~/Maildir"
	if d.maildirIsHome {
		location = "maildir:~"
	}
	r := strings.NewReplacer("{dir}", d.Dir, "{addr}", d.Addr, "{port}", strconv.Itoa(d.Port), "{log}", d.LogPath, "{mail_location}", location)
	return r.Replace(`# Written by the mailplan test bed (resources/testbed).
instance_name = mailplan-dovecot-{port}
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {log}
info_log_path = {log}
protocols = imap
listen = {addr}
ssl = no
auth_mechanisms = plain login
disable_plaintext_auth = no
auth_verbose = yes
mail_location = {mail_location}
first_valid_uid = 1
first_valid_gid = 1
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {dir}/users
}
userdb {
  driver = passwd-file
  args = username_format=%n {dir}/users
}
namespace inbox {
  inbox = yes
}
service imap-login {
  inet_listener imap {
    address = {addr}
    port = {port}
  }
  inet_listener imaps {
    port = 0
  }
}
`)
}

// start starts the master and waits for the IMAP greeting. retry is
// true when it failed for want of its port.
func (d *DovecotServer) start() (retry bool, err error) {
	logf, err := os.OpenFile(d.LogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return false, err
	}
	defer logf.Close()
	logStart, _ := logf.Seek(0, 2)
	// -F: foreground, so that the PID is the master's.
	cmd := exec.Command(DovecotPath, "-F", "-c", d.ConfigPath)
	// Not the caller's stderr: Dovecot keeps it open, and `go test`
	// would wait for it.
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("start %s: %w", DovecotPath, err)
	}
	startTime, stErr := procStartTime(cmd.Process.Pid)
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	d.exited = exited
	d.proc = Process{
		Kind: "dovecot", Name: "dovecot", PID: cmd.Process.Pid, StartTime: startTime,
		Config: d.ConfigPath, PIDFile: d.PIDFile, Dir: d.Dir,
	}
	if stErr != nil {
		_ = cmd.Process.Kill()
		<-exited
		return false, fmt.Errorf("dovecot start time: %w", stErr)
	}
	logSince := func() string {
		b, _ := os.ReadFile(d.LogPath)
		if int(logStart) <= len(b) {
			b = b[logStart:]
		}
		return string(b)
	}
	portTaken := func(log string) bool { return strings.Contains(log, "Address already in use") }
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := d.greeting()
		if err == nil {
			return false, nil
		}
		select {
		case <-exited:
			log := logSince()
			return portTaken(log), fmt.Errorf("dovecot exited (%v); its log:\n%s", waitErr, log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stopErr := d.stop()
			return false, errors.Join(fmt.Errorf("dovecot not serving IMAP on %s: %v; its log:\n%s", d.IMAPAddr(), err, logSince()), stopErr)
		}
	}
}

// greeting checks that the IMAP service greets.
func (d *DovecotServer) greeting() error { return IMAPGreeting(d.IMAPAddr()) }

// IMAPGreeting checks that an IMAP server at addr ("host:port") sends
// its "* OK" greeting within 2 s.
func IMAPGreeting(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "* OK") {
		return fmt.Errorf("greeting %q", line)
	}
	return nil
}

// IMAPAddr is "Addr:Port", where IMAP is served.
func (d *DovecotServer) IMAPAddr() string {
	return net.JoinHostPort(d.Addr, strconv.Itoa(d.Port))
}

// Maildir returns user's Maildir: MailRoot/USER/Maildir, or MailRoot/USER
// with MaildirIsHome.
func (d *DovecotServer) Maildir(user string) string {
	if d.maildirIsHome {
		return filepath.Join(d.MailRoot, user)
	}
	return filepath.Join(d.MailRoot, user, "Maildir")
}

// Running reports whether Dovecot runs: the master started, or one
// started since with dovecot -c ConfigPath (found by its PID file).
func (d *DovecotServer) Running() bool {
	_, ok := d.proc.Current()
	return ok
}

// Process identifies the master running now, to stop it from another
// process; ok is false when Dovecot does not run.
func (d *DovecotServer) Process() (pr Process, ok bool) { return d.proc.Current() }

// Service is how a plan's service_state with manager = "command" starts,
// stops and checks this Dovecot: dovecot -c CONFIG, with its standard
// streams on /dev/null (the master goes into the background but keeps
// standard error, which would hold an SSH session open), dovecot -c
// CONFIG stop, and a status command that succeeds while the PID in
// PIDFile is a live process.
func (d *DovecotServer) Service() (start, stop, status []string) {
	return []string{"sh", "-c", `exec "$1" -c "$2" </dev/null >/dev/null 2>&1`, "sh", DovecotPath, d.ConfigPath},
		[]string{DovecotPath, "-c", d.ConfigPath, "stop"},
		[]string{"sh", "-c", `pid=$(cat "$1" 2>/dev/null) && kill -0 "$pid" 2>/dev/null`, "sh", d.PIDFile}
}

// Close stops Dovecot and removes Dir (with MailRoot when it is the
// default, inside Dir). Calling it again does nothing and returns the
// same error.
func (d *DovecotServer) Close() error {
	return d.closeDir(d.Dir)
}

// Doveadm runs doveadm -c ConfigPath ARGS against this instance and
// returns its standard output; the test fails when doveadm does (or
// reports an error).
func (d *DovecotServer) Doveadm(t testing.TB, args ...string) string {
	t.Helper()
	out, err := d.TryDoveadm(args...)
	if err != nil {
		t.Fatalf("dovecot: %v", err)
	}
	return out
}

// TryDoveadm is Doveadm returning the error.
func (d *DovecotServer) TryDoveadm(args ...string) (string, error) {
	full := append([]string{"-c", d.ConfigPath}, args...)
	out, err := runDoveadm(d.doveadm, []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, full...)
	if f, ferr := os.OpenFile(d.cmdLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); ferr == nil {
		fmt.Fprintf(f, "$ doveadm %q\n%s", full, out)
		if err != nil {
			fmt.Fprintf(f, "%v\n", err)
		}
		f.Close()
	}
	return out, err
}

// Status returns what IMAP clients see of user's mailbox (a name as
// Dovecot shows it: "INBOX", "Archive.2024.Q1", "Café"): doveadm
// mailbox status. Dovecot creates the mailbox when it does not exist.
func (d *DovecotServer) Status(t testing.TB, user, mailbox string) (messages int, uidvalidity, uidnext uint32) {
	t.Helper()
	rows := parseTab(d.Doveadm(t, "-f", "tab", "mailbox", "status", "-u", user, "messages uidvalidity uidnext", mailbox))
	if len(rows) != 1 {
		t.Fatalf("dovecot: status of %s %q: %d rows", user, mailbox, len(rows))
	}
	n, err1 := strconv.Atoi(rows[0]["messages"])
	v, err2 := strconv.ParseUint(rows[0]["uidvalidity"], 10, 32)
	x, err3 := strconv.ParseUint(rows[0]["uidnext"], 10, 32)
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatalf("dovecot: status of %s %q: %v", user, mailbox, err)
	}
	return n, uint32(v), uint32(x)
}

// IMAPMessage is one message as IMAP clients see it.
type IMAPMessage struct {
	// UID is the message's IMAP UID.
	UID uint32
	// Flags are its flags and keywords, sorted, space-separated, without
	// \Recent (which depends on the session): `$Forwarded \Seen`.
	Flags string
	// GUID is Dovecot's GUID: for Maildir, the file's base name (before
	// ":2,"), unless Dovecot recorded another one.
	GUID string
}

// UIDs returns the messages of user's mailbox, in UID order (doveadm
// fetch 'uid flags guid'); two mailboxes with the same UIDVALIDITY and
// UIDs give equal slices. It does not move new/ messages to cur/.
func (d *DovecotServer) UIDs(t testing.TB, user, mailbox string) []IMAPMessage {
	t.Helper()
	rows := parseTab(d.Doveadm(t, "-f", "tab", "fetch", "-u", user, "uid flags guid", "mailbox", mailbox, "ALL"))
	out := make([]IMAPMessage, 0, len(rows))
	for _, r := range rows {
		uid, err := strconv.ParseUint(r["uid"], 10, 32)
		if err != nil {
			t.Fatalf("dovecot: fetch %s %q: uid %q", user, mailbox, r["uid"])
		}
		out = append(out, IMAPMessage{UID: uint32(uid), Flags: normFlags(strings.Fields(r["flags"])), GUID: r["guid"]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
	return out
}

// Mailboxes returns user's mailboxes, sorted, as Dovecot names them
// (doveadm mailbox list): "INBOX", "Archive", "Archive.2024", "Café", …
// A parent without a directory of its own (Archive for
// .Archive.2024) is listed too.
func (d *DovecotServer) Mailboxes(t testing.TB, user string) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(d.Doveadm(t, "mailbox", "list", "-u", user), "\n") {
		if l = strings.TrimRight(l, "\r"); l != "" {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

// normFlags sorts flags and drops \Recent.
func normFlags(flags []string) string {
	var out []string
	for _, f := range flags {
		if !strings.EqualFold(f, `\Recent`) {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// parseTab parses doveadm -f tab output: a header line of field names,
// then a line of tab-separated values per row.
func parseTab(out string) []map[string]string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) < 2 {
		return nil
	}
	head := strings.Split(lines[0], "\t")
	var rows []map[string]string
	for _, l := range lines[1:] {
		vals := strings.Split(l, "\t")
		r := map[string]string{}
		for i, h := range head {
			if i < len(vals) {
				r[h] = vals[i]
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// IMAPMailbox is what an IMAP session saw of one mailbox.
type IMAPMailbox struct {
	// Mailboxes are every mailbox LIST "" "*" returned, decoded from
	// modified UTF-7, sorted.
	Mailboxes []string
	// Exists, UIDValidity and UIDNext are what SELECT returned.
	Exists      int
	UIDValidity uint32
	UIDNext     uint32
	// Messages are the mailbox's messages (UID FETCH 1:* (FLAGS
	// X-GUID)), in UID order.
	Messages []IMAPMessage
}

// IMAPSelect logs in as user over IMAP on the loopback port, as a mail
// client would (LOGIN, LIST, SELECT mailbox, UID FETCH, LOGOUT), and
// returns what it saw. mailbox is a name as Dovecot shows it ("Café");
// it is sent in modified UTF-7. SELECT is a real client's: Dovecot then
// moves new/ messages to cur/.
func (d *DovecotServer) IMAPSelect(t testing.TB, user, mailbox string) IMAPMailbox {
	t.Helper()
	mb, err := d.imapSelect(user, mailbox)
	if err != nil {
		t.Fatalf("dovecot: IMAP as %s, %q: %v", user, mailbox, err)
	}
	return mb
}

// IMAPSelectAt is IMAPSelect against any IMAP server at addr
// ("host:port", no TLS), logging in as user with password: what
// mailplan-testbed imap and tests use for a Dovecot they did not start.
func IMAPSelectAt(addr, user, password, mailbox string) (IMAPMailbox, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return IMAPMailbox{}, err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return IMAPMailbox{}, fmt.Errorf("port %q: %w", port, err)
	}
	d := &DovecotServer{Addr: host, Port: p, Password: password}
	return d.imapSelect(user, mailbox)
}

// imapSession is a tagged-command IMAP client, enough for the tests.
type imapSession struct {
	c   *textproto.Conn
	tag int
}

// cmd sends a command and returns the untagged lines before its tagged
// OK; a NO or BAD is an error. Literals are not expected.
func (s *imapSession) cmd(format string, args ...any) ([]string, error) {
	s.tag++
	tag := fmt.Sprintf("a%d", s.tag)
	if err := s.c.PrintfLine(tag+" "+format, args...); err != nil {
		return nil, err
	}
	var untagged []string
	for {
		line, err := s.c.ReadLine()
		if err != nil {
			return untagged, err
		}
		if rest, ok := strings.CutPrefix(line, tag+" "); ok {
			if !strings.HasPrefix(rest, "OK") {
				return untagged, fmt.Errorf("%s: %s", strings.SplitN(fmt.Sprintf(format, args...), " ", 2)[0], rest)
			}
			return untagged, nil
		}
		untagged = append(untagged, line)
	}
}

var (
	imapListRE   = regexp.MustCompile(`^\* LIST \([^)]*\) (?:"[^"]*"|NIL) (?:"((?:[^"\\]|\\.)*)"|(\S+))$`)
	imapNumRE    = regexp.MustCompile(`^\* (\d+) EXISTS$`)
	imapCodeRE   = regexp.MustCompile(`\[(UIDVALIDITY|UIDNEXT) (\d+)\]`)
	imapFetchRE  = regexp.MustCompile(`^\* \d+ FETCH \((.*)\)$`)
	imapUIDRE    = regexp.MustCompile(`\bUID (\d+)`)
	imapFlagsRE  = regexp.MustCompile(`\bFLAGS \(([^)]*)\)`)
	imapXGUIDRE  = regexp.MustCompile(`\bX-GUID "?([^" )]+)"?`)
	imapQuoteEsc = strings.NewReplacer(`\`, `\\`, `"`, `\"`)
)

func (d *DovecotServer) imapSelect(user, mailbox string) (IMAPMailbox, error) {
	var mb IMAPMailbox
	conn, err := net.DialTimeout("tcp", d.IMAPAddr(), 5*time.Second)
	if err != nil {
		return mb, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	s := &imapSession{c: textproto.NewConn(conn)}
	greeting, err := s.c.ReadLine()
	if err != nil || !strings.HasPrefix(greeting, "* OK") {
		return mb, fmt.Errorf("greeting %q, %v", greeting, err)
	}
	if _, err := s.cmd(`LOGIN "%s" "%s"`, imapQuoteEsc.Replace(user), imapQuoteEsc.Replace(d.Password)); err != nil {
		return mb, err
	}
	lines, err := s.cmd(`LIST "" "*"`)
	if err != nil {
		return mb, err
	}
	for _, l := range lines {
		m := imapListRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		name := m[2]
		if name == "" {
			name = strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(m[1])
		}
		mb.Mailboxes = append(mb.Mailboxes, decodeMUTF7(name))
	}
	sort.Strings(mb.Mailboxes)
	lines, err = s.cmd(`SELECT "%s"`, imapQuoteEsc.Replace(EncodeMUTF7(mailbox)))
	if err != nil {
		return mb, err
	}
	for _, l := range lines {
		if m := imapNumRE.FindStringSubmatch(l); m != nil {
			mb.Exists, _ = strconv.Atoi(m[1])
		}
		if m := imapCodeRE.FindStringSubmatch(l); m != nil {
			v, _ := strconv.ParseUint(m[2], 10, 32)
			if m[1] == "UIDVALIDITY" {
				mb.UIDValidity = uint32(v)
			} else {
				mb.UIDNext = uint32(v)
			}
		}
	}
	if mb.Exists > 0 {
		lines, err = s.cmd(`UID FETCH 1:* (FLAGS X-GUID)`)
		if err != nil {
			return mb, err
		}
		for _, l := range lines {
			m := imapFetchRE.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			var msg IMAPMessage
			if u := imapUIDRE.FindStringSubmatch(m[1]); u != nil {
				v, _ := strconv.ParseUint(u[1], 10, 32)
				msg.UID = uint32(v)
			}
			if f := imapFlagsRE.FindStringSubmatch(m[1]); f != nil {
				msg.Flags = normFlags(strings.Fields(f[1]))
			}
			if g := imapXGUIDRE.FindStringSubmatch(m[1]); g != nil {
				msg.GUID = g[1]
			}
			mb.Messages = append(mb.Messages, msg)
		}
		sort.Slice(mb.Messages, func(i, j int) bool { return mb.Messages[i].UID < mb.Messages[j].UID })
	}
	_, _ = s.cmd("LOGOUT")
	return mb, nil
}

// mutf7Encoding is modified UTF-7's base64: "," for "/".
var mutf7Encoding = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,")

// EncodeMUTF7 encodes a mailbox name in IMAP's modified UTF-7 (RFC 3501
// §5.1.3), as Maildir++ folder names are: "Café" is "Caf&AOk-".
func EncodeMUTF7(s string) string {
	var b strings.Builder
	var pending []rune
	flush := func() {
		if len(pending) == 0 {
			return
		}
		u := utf16.Encode(pending)
		raw := make([]byte, 0, 2*len(u))
		for _, c := range u {
			raw = append(raw, byte(c>>8), byte(c))
		}
		b.WriteByte('&')
		b.WriteString(strings.TrimRight(mutf7Encoding.EncodeToString(raw), "="))
		b.WriteByte('-')
		pending = pending[:0]
	}
	for _, r := range s {
		switch {
		case r == '&':
			flush()
			b.WriteString("&-")
		case r >= 0x20 && r <= 0x7e:
			flush()
			b.WriteRune(r)
		default:
			pending = append(pending, r)
		}
	}
	flush()
	return b.String()
}

// decodeMUTF7 decodes a modified UTF-7 name; a malformed one is
// returned as it is.
func decodeMUTF7(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '&' {
			b.WriteByte(s[i])
			continue
		}
		j := strings.IndexByte(s[i:], '-')
		if j < 0 {
			return s
		}
		enc := s[i+1 : i+j]
		i += j
		if enc == "" {
			b.WriteByte('&')
			continue
		}
		raw, err := mutf7Encoding.DecodeString(enc + strings.Repeat("=", (4-len(enc)%4)%4))
		if err != nil || len(raw)%2 != 0 {
			return s
		}
		u := make([]uint16, len(raw)/2)
		for k := range u {
			u[k] = uint16(raw[2*k])<<8 | uint16(raw[2*k+1])
		}
		b.WriteString(string(utf16.Decode(u)))
	}
	return b.String()
}
