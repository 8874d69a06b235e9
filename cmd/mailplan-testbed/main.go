package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mailplan/mailplan/resources/testbed"
)

// The files up writes in DIR.
const (
	envFile  = "testbed.env"
	varsFile = "testbed.vars.hcl"
	fullFile = "full-migration.vars.hcl"
	pidsFile = "testbed.pids"
)

// stopTimeout is how long a server has to exit on SIGTERM before it is
// killed.
const stopTimeout = 10 * time.Second

const usage = `usage:
  mailplan-testbed up -dir DIR [-detach] [-ttl N]
                                           start sshd, Postfix and Dovecot "old" and "new"
                                           and BIND on loopback
  mailplan-testbed down -dir DIR           stop what "up -detach" started in DIR
  mailplan-testbed corpus -dir DIR -messages N [-seed S] [-users U] [-big]
                                           write a Maildir corpus (see corpus -h)
  mailplan-testbed imap -addr HOST:PORT -user USER [-mailbox M]
                                           show a mailbox over IMAP (see imap -h)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command with args and returns its exit status: 0, 1 on
// failure, 2 on a usage error.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "corpus":
		return corpus(args[1:], stdout, stderr)
	case "imap":
		return imap(args[1:], stdout, stderr)
	}
	flags := flag.NewFlagSet("mailplan-testbed "+args[0], flag.ContinueOnError)
	flags.SetOutput(stderr)
	dir := flags.String("dir", "", "directory for the servers' files and testbed.env, testbed.vars.hcl, testbed.pids (required)")
	var detach *bool
	var ttl *uint
	switch args[0] {
	case "up":
		detach = flags.Bool("detach", false, "leave the servers running and exit; stop them with down")
		ttl = flags.Uint("ttl", 0, "serve the zone's records (but SOA and NS) with this TTL in seconds instead of a day (MX) and an hour, so that a cutover's waits are short")
	case "down":
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "mailplan-testbed: unknown command %q\n%s", args[0], usage)
		return 2
	}
	if err := flags.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *dir == "" || flags.NArg() > 0 {
		fmt.Fprintf(stderr, "mailplan-testbed %s: -dir DIR is required, and nothing else\n%s", args[0], usage)
		return 2
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		fmt.Fprintf(stderr, "mailplan-testbed: %v\n", err)
		return 1
	}
	if args[0] == "down" {
		err = down(abs, stdout)
	} else {
		err = up(abs, *detach, uint32(*ttl), stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailplan-testbed %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// safeDirRE matches directories main.cf, the shell and testbed.pids take
// verbatim.
var safeDirRE = regexp.MustCompile(`^[A-Za-z0-9/._+-]+$`)

// The test bed's BIND: its address, zone and the TSIG algorithm of the
// key testbed.env names.
const (
	dnsAddr = "127.0.0.4"
	dnsZone = "example.com."
	// extraDomain is a second domain both Postfix instances serve, with
	// its own zone, so that plans migrate more than one domain.
	extraDomain   = "example.org"
	tsigAlgorithm = "hmac-sha256"
)

// bed is what up started.
type bed struct {
	dir          string
	sshd         *testbed.SSHServer
	oldPF, newPF *testbed.PostfixInstance
	named        *testbed.NamedServer
	// oldIMAP serves the old Postfix's Maildirs and runs; newIMAP serves
	// the new one's and is set up but stopped, as on a new server before
	// the move (full-migration starts it).
	oldIMAP, newIMAP *testbed.DovecotServer
}

// up starts the test bed in dir and writes its files; without detach it
// waits for SIGINT or SIGTERM and stops it.
func up(dir string, detach bool, ttl uint32, stdout io.Writer) error {
	if !safeDirRE.MatchString(dir) {
		return fmt.Errorf("directory %q may hold only letters, digits and /._+- (Postfix's main.cf takes it verbatim)", dir)
	}
	if err := errors.Join(testbed.CheckAvailable(), testbed.CheckNamedAvailable(), testbed.CheckDovecotAvailable()); err != nil {
		return fmt.Errorf("%v: run `make deps` as root first (Debian), and run mailplan-testbed as root", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, pidsFile)); err == nil {
		return fmt.Errorf("a test bed is already up in %s (%s exists): run `mailplan-testbed down -dir %s` first", dir, pidsFile, dir)
	}

	// From now on a signal stops what was started, even during the start.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	start := time.Now()
	b, err := startBed(dir)
	if err != nil {
		return err
	}
	if ttl > 0 {
		for _, z := range []string{dnsZone, extraDomain + "."} {
			if err := b.named.SetZoneTTL(z, ttl); err != nil {
				return errors.Join(err, b.close())
			}
		}
	}
	if err := b.writeFiles(); err != nil {
		return errors.Join(err, b.close())
	}
	var sig os.Signal
	select {
	case sig = <-sigs: // during the start
	default:
		b.summary(stdout, time.Since(start), detach)
		if detach {
			return nil
		}
		sig = <-sigs
	}
	fmt.Fprintf(stdout, "%v: stopping the test bed\n", sig)
	if err := b.close(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "stopped")
	return nil
}

// startBed starts sshd, both Postfix instances and named at once; if one
// fails, it stops the others.
func startBed(dir string) (*bed, error) {
	b := &bed{dir: dir}
	var wg sync.WaitGroup
	var sshErr, oldErr, newErr, namedErr error
	wg.Add(4)
	go func() {
		defer wg.Done()
		b.sshd, sshErr = testbed.StartSSHD(testbed.SSHDOptions{Dir: filepath.Join(dir, "sshd")})
	}()
	go func() {
		defer wg.Done()
		b.oldPF, oldErr = testbed.StartPostfix(testbed.PostfixOptions{Name: "old", Addr: "127.0.0.2", ExtraDomains: []string{extraDomain}, Dir: filepath.Join(dir, "old")})
	}()
	go func() {
		defer wg.Done()
		b.newPF, newErr = testbed.StartPostfix(testbed.PostfixOptions{Name: "new", Addr: "127.0.0.3", ExtraDomains: []string{extraDomain}, Dir: filepath.Join(dir, "new")})
	}()
	go func() {
		defer wg.Done()
		b.named, namedErr = testbed.StartNamed(testbed.NamedOptions{
			Addr: dnsAddr, Zones: []string{dnsZone, extraDomain + "."}, Algorithms: []string{tsigAlgorithm},
			Dir: filepath.Join(dir, "named"),
		})
	}()
	wg.Wait()
	if err := errors.Join(sshErr, oldErr, newErr, namedErr); err != nil {
		return nil, errors.Join(err, b.close())
	}
	// Dovecot over each Postfix's Maildirs (MailDir/DOMAIN/USER/), so
	// after Postfix made them: USER@DOMAIN for every domain, and a bare
	// USER for the first.
	imap := func(p *testbed.PostfixInstance, stopped bool) (*testbed.DovecotServer, error) {
		return testbed.StartDovecot(testbed.DovecotOptions{
			Addr: p.Addr, Users: p.Users, MailRoot: p.MailDir, Domains: p.Domains,
			MaildirIsHome: true, Stopped: stopped, Dir: filepath.Join(dir, p.Name+"-imap"),
		})
	}
	var oldIMAPErr, newIMAPErr error
	b.oldIMAP, oldIMAPErr = imap(b.oldPF, false)
	b.newIMAP, newIMAPErr = imap(b.newPF, true)
	if err := errors.Join(oldIMAPErr, newIMAPErr); err != nil {
		return nil, errors.Join(err, b.close())
	}
	return b, nil
}

// close stops every server started and removes their directories and the
// files up wrote.
func (b *bed) close() error {
	var errs []error
	for _, d := range []*testbed.DovecotServer{b.newIMAP, b.oldIMAP} {
		if d != nil {
			errs = append(errs, d.Close())
		}
	}
	if b.named != nil {
		errs = append(errs, b.named.Close())
	}
	if b.newPF != nil {
		errs = append(errs, b.newPF.Close())
	}
	if b.oldPF != nil {
		errs = append(errs, b.oldPF.Close())
	}
	if b.sshd != nil {
		errs = append(errs, b.sshd.Close())
	}
	errs = append(errs, removeFiles(b.dir))
	return errors.Join(errs...)
}

// removeFiles removes the files up writes in dir.
func removeFiles(dir string) error {
	var errs []error
	for _, f := range []string{envFile, varsFile, fullFile, pidsFile} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// writeFiles writes testbed.pids first (so that down finds the servers
// whatever happens next), then testbed.env and testbed.vars.hcl.
func (b *bed) writeFiles() error {
	procs := []testbed.Process{b.sshd.Process()}
	for _, p := range []*testbed.PostfixInstance{b.oldPF, b.newPF} {
		pr, ok := p.Process()
		if !ok {
			return fmt.Errorf("postfix %s stopped right after it started; its log: %s", p.Name, p.LogPath)
		}
		procs = append(procs, pr)
	}
	procs = append(procs, b.named.Process())
	for _, d := range []struct {
		name string
		srv  *testbed.DovecotServer
	}{{"old-imap", b.oldIMAP}, {"new-imap", b.newIMAP}} {
		// The stopped one has PID 0: down looks for it by its PID file,
		// in case a plan started it.
		pr, _ := d.srv.Process()
		pr.Kind, pr.Name, pr.Config, pr.PIDFile, pr.Dir = "dovecot", d.name, d.srv.ConfigPath, d.srv.PIDFile, d.srv.Dir
		procs = append(procs, pr)
	}
	if err := writeFile(filepath.Join(b.dir, pidsFile), formatPids(procs)); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(b.dir, envFile), b.env()); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(b.dir, fullFile), b.fullMigrationVars()); err != nil {
		return err
	}
	return writeFile(filepath.Join(b.dir, varsFile), b.vars())
}

// writeFile writes path through a temporary file, so that a reader never
// sees half of it.
func writeFile(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// env is testbed.env: KEY=value lines a shell can source.
func (b *bed) env() string {
	h := b.sshd.Host
	var out strings.Builder
	out.WriteString("# Written by mailplan-testbed up; removed by down. Source it: . " + filepath.Join(b.dir, envFile) + "\n")
	kv := func(k, v string) { fmt.Fprintf(&out, "%s=%s\n", k, shellValue(v)) }
	kv("TESTBED_DIR", b.dir)
	kv("DOMAIN", b.oldPF.Domain)
	kv("DOMAINS", strings.Join(b.oldPF.Domains, " "))
	kv("USERS", strings.Join(b.oldPF.Users, " "))
	out.WriteString("# sshd: root by key only (internal-sftp)\n")
	kv("SSH_HOST", h.Address)
	kv("SSH_PORT", strconv.Itoa(h.Port))
	kv("SSH_USER", h.User)
	kv("SSH_IDENTITY", h.IdentityFile)
	kv("SSH_KNOWN_HOSTS", h.KnownHosts)
	kv("SSH_CONFIG", b.sshd.ConfigPath)
	kv("SSH_LOG", b.sshd.LogPath)
	for _, p := range []*testbed.PostfixInstance{b.oldPF, b.newPF} {
		pre := strings.ToUpper(p.Name) + "_"
		fmt.Fprintf(&out, "# Postfix %q (myhostname %s); Maildirs at $%sMAILDIR/$DOMAIN/USER/\n", p.Name, p.Hostname, pre)
		kv(pre+"ADDR", p.Addr)
		kv(pre+"PORT", strconv.Itoa(p.Port))
		kv(pre+"SMTP", p.SMTPAddr())
		kv(pre+"CONFIG_DIR", p.ConfigDir)
		kv(pre+"QUEUE_DIR", p.QueueDir)
		kv(pre+"MAILDIR", p.MailDir)
		kv(pre+"LOG", p.LogPath)
	}
	k := b.named.Keys[tsigAlgorithm]
	fmt.Fprintf(&out, "# BIND named, authoritative for $DNS_ZONE, updates signed with the TSIG key\n")
	fmt.Fprintf(&out, "# $TSIG_NAME (its base64 secret alone in $TSIG_SECRET_FILE):\n")
	fmt.Fprintf(&out, "#   dig +norecurse @$DNS_ADDR -p $DNS_PORT $DNS_ZONE MX\n")
	kv("DNS_ADDR", b.named.Addr)
	kv("DNS_PORT", strconv.Itoa(b.named.Port))
	kv("DNS_SERVER", b.named.Server())
	kv("DNS_ZONE", dnsZone)
	kv("TSIG_NAME", k.Name)
	kv("TSIG_ALGORITHM", k.Algorithm)
	kv("TSIG_SECRET_FILE", k.SecretFile)
	kv("TSIG_KEY_FILE", k.KeyFile)
	kv("DNS_CONFIG", b.named.ConfigPath)
	kv("DNS_LOG", b.named.LogPath)
	out.WriteString("# Dovecot IMAP over each Postfix's Maildirs; \"new\" is set up but stopped (a plan starts it).\n")
	out.WriteString("# Every user's password is $IMAP_PASSWORD.\n")
	for _, d := range []struct {
		pre string
		srv *testbed.DovecotServer
	}{{"OLD_IMAP_", b.oldIMAP}, {"NEW_IMAP_", b.newIMAP}} {
		kv(d.pre+"ADDR", d.srv.Addr)
		kv(d.pre+"PORT", strconv.Itoa(d.srv.Port))
		kv(d.pre+"CONFIG", d.srv.ConfigPath)
		kv(d.pre+"PIDFILE", d.srv.PIDFile)
		kv(d.pre+"LOG", d.srv.LogPath)
	}
	kv("IMAP_PASSWORD", b.oldIMAP.Password)
	return out.String()
}

// shellValue quotes v for sh when it needs it.
func shellValue(v string) string {
	if v != "" && safeDirRE.MatchString(strings.ReplaceAll(v, ":", "")) {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// vars is testbed.vars.hcl: the variables of plans/examples/shadow-copy
// (a value for an undeclared variable is an error, so only those).
func (b *bed) vars() string {
	return fmt.Sprintf(`# Written by mailplan-testbed up; removed by down. The test bed's values for
# the variables of plans/examples/shadow-copy:
#   mailplan plan -var-file=%s
`, filepath.Join(b.dir, varsFile)) + testbed.ShadowCopyVars(b.sshd.Host, b.oldPF, b.newPF, b.oldPF.Domain)
}

// summary prints where everything is.
func (b *bed) summary(w io.Writer, took time.Duration, detach bool) {
	h := b.sshd.Host
	fmt.Fprintf(w, "mailplan test bed up in %s (loopback only, %v):\n", b.dir, took.Round(time.Millisecond))
	fmt.Fprintf(w, "  sshd          %s:%d  user %s, key %s\n", h.Address, h.Port, h.User, h.IdentityFile)
	for _, p := range []*testbed.PostfixInstance{b.oldPF, b.newPF} {
		fmt.Fprintf(w, "  postfix %-5s %s  -c %s, Maildirs %s/%s/{%s}\n",
			p.Name, p.SMTPAddr(), p.ConfigDir, p.MailDir, "{"+strings.Join(p.Domains, ",")+"}", strings.Join(p.Users, ","))
	}
	k := b.named.Keys[tsigAlgorithm]
	fmt.Fprintf(w, "  named         %s  zone %s, TSIG key %s (%s), secret in %s\n",
		b.named.Server(), dnsZone+" "+extraDomain+".", k.Name, k.Algorithm, k.SecretFile)
	for _, d := range []struct {
		name string
		srv  *testbed.DovecotServer
		note string
	}{{"old", b.oldIMAP, "running"}, {"new", b.newIMAP, "set up, not started"}} {
		fmt.Fprintf(w, "  dovecot %-5s %s  -c %s (%s), password %s\n", d.name, d.srv.IMAPAddr(), d.srv.ConfigPath, d.note, d.srv.Password)
	}
	fmt.Fprintf(w, "  environment   . %s\n", filepath.Join(b.dir, envFile))
	fmt.Fprintf(w, "  plan values   mailplan plan -var-file=%s   (plans/examples/shadow-copy)\n", filepath.Join(b.dir, varsFile))
	fmt.Fprintf(w, "                mailplan plan -var-file=%s   (plans/examples/full-migration)\n", filepath.Join(b.dir, fullFile))
	if detach {
		fmt.Fprintf(w, "Stop it with: mailplan-testbed down -dir %s\n", b.dir)
	} else {
		fmt.Fprintln(w, "Press ^C (or send SIGTERM) to stop it.")
	}
}

// formatPids is testbed.pids: one server a line.
func formatPids(procs []testbed.Process) string {
	var out strings.Builder
	out.WriteString("# Written by mailplan-testbed up: the servers it started; down stops exactly these.\n")
	out.WriteString("# kind name pid start-time(ticks after boot) config pid-file dir\n")
	for _, p := range procs {
		fmt.Fprintf(&out, "%s %s %d %d %s %s %s\n", p.Kind, p.Name, p.PID, p.StartTime, p.Config, p.PIDFile, p.Dir)
	}
	return out.String()
}

// parsePids reads testbed.pids in dir. Each server's files must be in a
// directory of its own right under dir: down removes it.
func parsePids(dir string) ([]testbed.Process, error) {
	path := filepath.Join(dir, pidsFile)
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no test bed is up in %s: %s does not exist", dir, pidsFile)
		}
		return nil, err
	}
	defer f.Close()
	var procs []testbed.Process
	s := bufio.NewScanner(f)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		bad := func(why string) error { return fmt.Errorf("%s:%d: %s: %q", path, n, why, line) }
		fl := strings.Fields(line)
		if len(fl) != 7 {
			return nil, bad("want 7 fields")
		}
		pid, err1 := strconv.Atoi(fl[2])
		st, err2 := strconv.ParseUint(fl[3], 10, 64)
		// PID 0: a Dovecot set up but not started (see writeFiles).
		if err1 != nil || err2 != nil || pid < 0 || pid == 1 || (pid == 0 && fl[0] != "dovecot") {
			return nil, bad("bad PID or start time")
		}
		p := testbed.Process{Kind: fl[0], Name: fl[1], PID: pid, StartTime: st, Config: fl[4], PIDFile: fl[5], Dir: fl[6]}
		if p.Kind != "sshd" && p.Kind != "postfix" && p.Kind != "named" && p.Kind != "dovecot" {
			return nil, bad("kind is not sshd, postfix, named or dovecot")
		}
		if filepath.Dir(p.Dir) != dir || !within(p.Dir, p.Config) || !within(p.Dir, p.PIDFile) {
			return nil, bad("the server's directory is not right under " + dir + ", or its files are not in it")
		}
		procs = append(procs, p)
	}
	return procs, s.Err()
}

// within reports whether path is under dir.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != "." && !strings.HasPrefix(rel, "..")
}

// down stops the servers testbed.pids in dir names, each after checking
// its identity, and removes their directories and up's files.
func down(dir string, stdout io.Writer) error {
	procs, err := parsePids(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range procs {
		what := fmt.Sprintf("%s %s", p.Kind, p.Name)
		cur, ok := p.Current()
		switch {
		case !ok:
			fmt.Fprintf(stdout, "%s: not running (PID %d is gone or is another process now)\n", what, p.PID)
		default:
			if cur.PID != p.PID {
				fmt.Fprintf(stdout, "%s: restarted since up, now PID %d\n", what, cur.PID)
			}
			if err := cur.Stop(stopTimeout); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", what, err))
				continue
			}
			fmt.Fprintf(stdout, "%s: stopped (PID %d)\n", what, cur.PID)
		}
		if err := os.RemoveAll(p.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return removeFiles(dir)
}

// fullMigrationVars is full-migration.vars.hcl: the variables of
// plans/examples/full-migration for this test bed. The TSIG secret is not
// in it: export MAILPLAN_VAR_tsig_secret="$(cat $TSIG_SECRET_FILE)".
func (b *bed) fullMigrationVars() string {
	h := b.sshd.Host
	k := b.named.Keys[tsigAlgorithm]
	hcl := func(argv []string) string {
		q := make([]string, len(argv))
		for i, a := range argv {
			q[i] = strconv.Quote(a)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	service := func(name string, start, stop, status []string) string {
		return fmt.Sprintf("{\n  name    = %q\n  manager = \"command\"\n  start   = %s\n  stop    = %s\n  status  = %s\n}",
			name, hcl(start), hcl(stop), hcl(status))
	}
	oldStart, oldStop, oldStatus := b.oldIMAP.Service()
	newStart, newStop, newStatus := b.newIMAP.Service()
	pf := func(cmd string) []string { return []string{"postfix", "-c", b.oldPF.ConfigDir, cmd} }
	var domains, probes strings.Builder
	for i, d := range b.oldPF.Domains {
		if i > 0 {
			probes.WriteString(", ")
		}
		fmt.Fprintf(&probes, "%q = \"alice\"", d)
		fmt.Fprintf(&domains, "  %q = {\n    new_mx       = \"mail.new.%s.\"\n    new_ip       = %q\n    client_names = [\"imap\", \"smtp\"]\n    spf          = \"v=spf1 ip4:%s -all\"\n    aliases      = { postmaster = \"alice@%s\" }\n  }\n",
			d, d, b.newPF.Addr, b.newPF.Addr, d)
	}
	return fmt.Sprintf(`# Written by mailplan-testbed up; removed by down. The test bed's values for
# the variables of plans/examples/full-migration:
#   export MAILPLAN_VAR_tsig_secret="$(cat %s)"
#   mailplan plan -var-file=%s
# Both hosts are this machine's sshd; the services have test bed names.
old_address   = %q
old_port      = %d
new_address   = %q
new_port      = %d
ssh_user      = %q
identity_file = %q
known_hosts   = %q

old_config_dir = %q
new_config_dir = %q
new_server     = "[%s]:%d"

dns_address    = %q
tsig_key_name  = %q
tsig_algorithm = %q

domains = {
%s}

old_maildir_root = %q
new_maildir_root = %q
mail_owner       = "nobody"
mail_group       = "nogroup"

old_imap = %s
new_imap = %s
old_postfix = %s

# The checks after the cutover ask the test bed's BIND itself (it does not
# recurse), and probe alice of each domain at the new Postfix's port.
check_resolvers = [%q]
check_recursion = false
check_timeout   = "2m"
probes          = {%s}
mx_port         = %d

# "Shutting the old machine down" leaves a mark in the test bed's directory
# (undo removes it). confirm = false: the test bed's runs are unattended.
old_shutdown = {
  command = ["touch", %q]
  undo    = ["rm", "-f", %q]
  confirm = false
}

# Seconds, not hours: the test bed's zone is served with short TTLs
# (mailplan-testbed up -ttl).
transition_ttl  = 1
transition_hold = "30s"
mx_ttl          = 60
client_ttl      = 60
drain_timeout   = "2m"
`, k.SecretFile, filepath.Join(b.dir, fullFile),
		h.Address, h.Port, h.Address, h.Port, h.User, h.IdentityFile, h.KnownHosts,
		b.oldPF.ConfigDir, b.newPF.ConfigDir, b.newPF.Addr, b.newPF.Port,
		b.named.Server(), k.Name, k.Algorithm,
		domains.String(),
		b.oldPF.MailDir, b.newPF.MailDir,
		service("dovecot-old", oldStart, oldStop, oldStatus),
		service("dovecot-new", newStart, newStop, newStatus),
		service("postfix-old", pf("start"), pf("stop"), pf("status")),
		b.named.Server(), probes.String(), b.newPF.Port,
		filepath.Join(b.dir, oldShutdownMark), filepath.Join(b.dir, oldShutdownMark))
}

// oldShutdownMark is the file, in the test bed's directory, that
// full-migration.vars.hcl's old_shutdown command creates.
const oldShutdownMark = "old-server-shut-down"
