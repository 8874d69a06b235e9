package testbed

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
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
	// "carol"} (the corpus's). Local parts only: with Domains each of
	// them is a user in every domain.
	Users []string
	// Domains, when set, make Dovecot serve USER@DOMAIN logins for every
	// user and every domain, with the home MailRoot/DOMAIN/USER
	// (username_format=%u): MailRoot is then a Postfix
	// virtual_mailbox_base (Maildirs at BASE/DOMAIN/USER/ with
	// MaildirIsHome). A bare USER still logs in, as USER@Domains[0] (the
	// same home), so clients written for one domain keep working.
	// Without Domains, users log in by local part only (username_format
	// =%n: any @DOMAIN is ignored) and homes are MailRoot/USER.
	Domains []string
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
	// Domains are DovecotOptions.Domains: when set, every user logs in
	// as USER@DOMAIN for each of them (see Maildir).
	Domains []string
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
	return lacking("the Dovecot test bed", missing)
}

// Dovecot starts Dovecot for the test (see StartDovecot); it is stopped
// and its directory removed when the test ends, its log shown when the
// test failed. Without root or Dovecot the test is skipped, or fails
// when Strict.
func Dovecot(t testing.TB, opts DovecotOptions) *DovecotServer {
	t.Helper()
	return startForTest(t, StartDovecot, opts)
}

// StartDovecot starts Dovecot's master (dovecot -F -c CONFIG, in its own
// session, its output in LogPath) with IMAP only on opts.Addr and a free
// port, users from a passwd-file with plain passwords, every user
// mapped to the mail user nobody, and returns once the IMAP greeting is
// served. Close stops it (every process it started) and removes Dir.
// Its error matches ErrUnavailable without root or Dovecot; mistakes in
// opts are reported first, on any machine.
func StartDovecot(opts DovecotOptions) (*DovecotServer, error) {
	addr, err := loopbackAddr("dovecot", cmp.Or(opts.Addr, "127.0.0.3"))
	if err != nil {
		return nil, err
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
	for _, dom := range opts.Domains {
		if !postfixLocalRE.MatchString(dom) || !strings.Contains(dom, ".") || seen["@"+dom] {
			return nil, fmt.Errorf("dovecot test bed: domain %q is not a lower-case DNS name, or is listed twice", dom)
		}
		seen["@"+dom] = true
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
		Addr:       addr,
		ConfigPath: filepath.Join(dir, "dovecot.conf"),
		Dir:        dir,
		LogPath:    filepath.Join(dir, "dovecot.log"),
		MailRoot:   opts.MailRoot,
		Users:      append([]string(nil), opts.Users...),
		Password:   opts.Password,
		Domains:    append([]string(nil), opts.Domains...),
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
	err = onFreePort(func() (int, error) { return freePortOn(d.Addr) }, func(port int) (bool, error) {
		d.Port = port
		if err := os.WriteFile(d.ConfigPath, []byte(d.config()), 0o644); err != nil {
			return false, err
		}
		if opts.Stopped {
			return false, nil
		}
		return d.start()
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("start dovecot: %v", err), d.Close())
	}
	return d, nil
}

// safeMailPathRE matches paths the configuration takes verbatim.
var safeMailPathRE = regexp.MustCompile(`^[A-Za-z0-9/._+-]+$`)

// home is the home of login (a user, or USER@DOMAIN with Domains).
func (d *DovecotServer) home(login string) string {
	local, domain, ok := strings.Cut(login, "@")
	switch {
	case ok:
		return filepath.Join(d.MailRoot, domain, local)
	case len(d.Domains) > 0:
		return filepath.Join(d.MailRoot, d.Domains[0], login)
	}
	return filepath.Join(d.MailRoot, login)
}

// logins are the passwd-file's user names: the users, and with Domains
// every USER@DOMAIN too.
func (d *DovecotServer) logins() []string {
	out := append([]string(nil), d.Users...)
	for _, dom := range d.Domains {
		for _, u := range d.Users {
			out = append(out, u+"@"+dom)
		}
	}
	return out
}

// populate writes the passwd-file and makes MailRoot and the homes.
func (d *DovecotServer) populate() error {
	var users strings.Builder
	for _, u := range d.logins() {
		// user:password:uid:gid:(gecos):home:(shell)
		fmt.Fprintf(&users, "%s:{PLAIN}%s:%d:%d::%s::\n", u, d.Password, d.UID, d.GID, d.home(u))
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
	for _, dom := range d.Domains {
		dir := filepath.Join(d.MailRoot, dom)
		if _, err := os.Lstat(dir); err == nil {
			continue
		}
		if err := mkdirOwned(dir, d.UID, d.GID); err != nil {
			return err
		}
	}
	for _, u := range d.logins() {
		home := d.home(u)
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
	// %u is the whole login (USER@DOMAIN), %n its local part.
	format := "%n"
	if len(d.Domains) > 0 {
		format = "%u"
	}
	r := strings.NewReplacer("{format}", format, "{dir}", d.Dir, "{addr}", d.Addr, "{port}", strconv.Itoa(d.Port), "{log}", d.LogPath, "{mail_location}", location)
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
  args = scheme=PLAIN username_format={format} {dir}/users
}
userdb {
  driver = passwd-file
  args = username_format={format} {dir}/users
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
	return d.daemon.start(launch{
		// -F: foreground, so that the PID is the master's.
		argv:    []string{DovecotPath, "-F", "-c", d.ConfigPath},
		proc:    Process{Kind: "dovecot", Name: "dovecot", Config: d.ConfigPath, PIDFile: d.PIDFile, Dir: d.Dir},
		dir:     "/",
		logPath: d.LogPath,
		logMode: 0o644,
		ready:   d.greeting,
		serving: "serving IMAP on " + d.IMAPAddr(),
		timeout: 20 * time.Second,
		portTaken: func(log string) bool {
			return strings.Contains(log, "Address already in use")
		},
	})
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

// Maildir returns user's Maildir: the home with MaildirIsHome, else
// HOME/Maildir. The home is MailRoot/USER, or with Domains
// MailRoot/DOMAIN/USER for user "USER@DOMAIN" (MailRoot/Domains[0]/USER
// for a bare "USER").
func (d *DovecotServer) Maildir(user string) string {
	if d.maildirIsHome {
		return d.home(user)
	}
	return filepath.Join(d.home(user), "Maildir")
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

func (d *DovecotServer) label() string { return "dovecot" }

func (d *DovecotServer) logs() []serverLog {
	return []serverLog{{title: "dovecot log", path: d.LogPath}, {title: "doveadm", path: d.cmdLog}}
}
