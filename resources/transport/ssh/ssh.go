package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport"
)

// maxSessions bounds the sessions open at once on one connection. OpenSSH
// allows 10 by default (sshd_config MaxSessions); SFTP takes one.
const maxSessions = 8

// Host is a connection to one remote host.
type Host struct {
	cfg  resource.Host
	log  hclog.Logger
	conn *ssh.Client
	// sftp is nil with sudo: file operations then run as commands.
	sftp  *sftp.Client
	fsync bool // the server has fsync@openssh.com
	// readers are more SFTP channels for reads (readers.go).
	readersOnce sync.Once
	readers     []*sftp.Client
	nextReader  atomic.Uint32
	// tarOnce finds out whether tar on the host is GNU tar (stream.go).
	tarOnce sync.Once
	gnuTar  bool
	// findOnce: whether find on the host is GNU find (listtree.go).
	findOnce sync.Once
	gnuFind  bool

	sessions chan struct{}
	done     chan struct{}
	once     sync.Once

	mu     sync.Mutex
	lookup map[string]lookupResult // getent results, by "passwd NAME" etc.

	access access // CheckAccess's answers
}

type lookupResult struct {
	fields []string // nil when not found
}

var _ transport.Host = (*Host)(nil)

// Config returns h with the defaults of a host block filled in: port 22,
// user root, known_hosts ~/.ssh/known_hosts, and `~` expanded in paths.
func Config(h resource.Host) (resource.Host, error) {
	if h.Port == 0 {
		h.Port = 22
	}
	if h.User == "" {
		h.User = "root"
	}
	if h.KnownHosts == "" {
		h.KnownHosts = "~/.ssh/known_hosts"
	}
	var err error
	if h.KnownHosts, err = expandHome(h.KnownHosts); err != nil {
		return h, err
	}
	if h.IdentityFile, err = expandHome(h.IdentityFile); err != nil {
		return h, err
	}
	return h, nil
}

func expandHome(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("expand %s: %w", p, err)
	}
	return filepath.Join(home, p[1:]), nil
}

// Dial connects to the host h describes, checking its key against its
// known_hosts file. The context bounds the connection and handshake only.
// A nil logger discards.
func Dial(ctx context.Context, h resource.Host, logger hclog.Logger) (*Host, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	cfg, err := Config(h)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", h, err)
	}
	if cfg.Address == "" {
		return nil, fmt.Errorf("connect to %s: no address", cfg)
	}
	addr := net.JoinHostPort(cfg.Address, strconv.Itoa(cfg.Port))

	auth, closeAuth, err := authMethods(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg, err)
	}
	defer closeAuth()
	hostKeys, err := newHostKeyChecker(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg, err)
	}
	clientCfg := &ssh.ClientConfig{
		User:              cfg.User,
		Auth:              auth,
		HostKeyCallback:   hostKeys.check,
		HostKeyAlgorithms: hostKeys.algorithms,
		Timeout:           30 * time.Second,
	}

	logger.Debug("connecting", "host", cfg.String())
	d := net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	netConn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg, err)
	}
	_ = netConn.SetDeadline(time.Now().Add(60 * time.Second))
	stop := context.AfterFunc(ctx, func() { netConn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(netConn, addr, clientCfg)
	if !stop() {
		if err == nil {
			c.Close()
		}
		return nil, fmt.Errorf("connect to %s: %w", cfg, ctx.Err())
	}
	if err != nil {
		netConn.Close()
		if kerr := hostKeys.failure(); kerr != nil {
			return nil, fmt.Errorf("connect to %s: %w", cfg, kerr)
		}
		if strings.Contains(err.Error(), "no common algorithm for host key") {
			return nil, fmt.Errorf("connect to %s: %w: the server offers no key of the types %s lists for it (%s): %v",
				cfg, transport.ErrHostKey, cfg.KnownHosts, strings.Join(hostKeys.algorithms, ", "), err)
		}
		return nil, fmt.Errorf("connect to %s: %w", cfg, err)
	}
	_ = netConn.SetDeadline(time.Time{})

	host := &Host{
		cfg:      cfg,
		log:      logger,
		conn:     ssh.NewClient(c, chans, reqs),
		sessions: make(chan struct{}, maxSessions),
		done:     make(chan struct{}),
		lookup:   map[string]lookupResult{},
	}
	if !cfg.Sudo {
		sc, err := sftp.NewClient(host.conn)
		if err != nil {
			host.conn.Close()
			return nil, fmt.Errorf("connect to %s: start sftp: %w", cfg, err)
		}
		host.sftp = sc
		if v, ok := sc.HasExtension("fsync@openssh.com"); ok && v == "1" {
			host.fsync = true
		}
	}
	go host.keepalive()
	logger.Debug("connected", "host", cfg.String(), "sftp", host.sftp != nil, "fsync", host.fsync)
	return host, nil
}

// keepalive keeps NAT and firewalls from dropping an idle connection during
// long waits, and closes the connection when the server stops answering.
func (h *Host) keepalive() {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-h.done:
			return
		case <-t.C:
			if _, _, err := h.conn.SendRequest("keepalive@openssh.com", true, nil); err != nil {
				h.log.Debug("keepalive failed", "host", h.cfg.String(), "error", err)
				return
			}
		}
	}
}

// Close closes the connection; commands in flight fail.
func (h *Host) Close() error {
	var err error
	h.once.Do(func() {
		close(h.done)
		if h.sftp != nil {
			h.closeReaders()
			h.sftp.Close()
		}
		err = h.conn.Close()
	})
	return err
}

func authMethods(cfg resource.Host) ([]ssh.AuthMethod, func(), error) {
	if cfg.IdentityFile != "" {
		pem, err := os.ReadFile(cfg.IdentityFile)
		if err != nil {
			return nil, nil, fmt.Errorf("read identity_file: %w", err)
		}
		signer, err := ssh.ParsePrivateKey(pem)
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, nil, fmt.Errorf("identity_file %s is protected by a passphrase: load it into the ssh-agent (ssh-add %s) and leave identity_file unset", cfg.IdentityFile, cfg.IdentityFile)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("identity_file %s: %w", cfg.IdentityFile, err)
		}
		return []ssh.AuthMethod{ssh.PublicKeys(signer)}, func() {}, nil
	}
	sock := os.Getenv("SSH_AUTH_SOCK")
	if sock == "" {
		return nil, nil, errors.New("no identity_file given and no ssh-agent running (SSH_AUTH_SOCK is not set)")
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, nil, fmt.Errorf("ssh-agent: %w", err)
	}
	ag := agent.NewClient(conn)
	return []ssh.AuthMethod{ssh.PublicKeysCallback(ag.Signers)}, func() { conn.Close() }, nil
}

// Name implements transport.Host.
func (h *Host) Name() string { return fmt.Sprintf("host %q", h.cfg.Name) }

// Run implements transport.Host. argv is quoted for the remote shell. A
// program that cannot be found exits 127, as the shell reports it.
func (h *Host) Run(ctx context.Context, argv []string, opts transport.RunOptions) (transport.Result, error) {
	if len(argv) == 0 {
		return transport.Result{}, errors.New("run: empty command")
	}
	cmd, err := h.commandLine(argv, opts.Env)
	if err != nil {
		return transport.Result{}, err
	}
	// Only the program: arguments may hold values the user marked sensitive.
	h.log.Trace("run", "host", h.cfg.Name, "command", argv[0], "args", len(argv)-1)
	var stdout, stderr bytes.Buffer
	var out io.Writer = &stdout
	if opts.Stdout != nil {
		out = io.MultiWriter(&stdout, opts.Stdout)
	}
	code, err := h.session(ctx, cmd, opts.Stdin, out, &stderr)
	if err != nil {
		return transport.Result{}, fmt.Errorf("run %s on %s: %w", argv[0], h.Name(), err)
	}
	if h.cfg.Sudo && code != 0 {
		if why := sudoRefusal(stderr.Bytes()); why != "" {
			// The command never ran: its exit status says nothing about
			// it (a status command's 1 is not "stopped").
			return transport.Result{}, fmt.Errorf("run %s on %s: sudo -n refused (%q): %s", argv[0], h.Name(), firstLine(stderr.Bytes()), why)
		}
	}
	return transport.Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: code}, nil
}

// sudoRefusal recognises sudo's own refusals (sudo 1.9, C locale) and
// says what fixes each; "" when stderr is not one.
func sudoRefusal(stderr []byte) string {
	msg := string(stderr)
	if !strings.HasPrefix(msg, "sudo: ") && !strings.HasPrefix(msg, "Sorry, user ") {
		return ""
	}
	switch {
	case strings.Contains(msg, "a password is required"):
		return "the SSH user has no NOPASSWD rule in sudoers; add one for the commands mailplan runs (see docs/troubleshooting.md)"
	case strings.Contains(msg, "you must have a tty"):
		return "sudoers has requiretty; mailplan opens no terminal: add `Defaults:USER !requiretty`"
	case strings.Contains(msg, "is not in the sudoers file"), strings.Contains(msg, "is not allowed to execute"):
		return "sudoers does not let the SSH user run this command as root; allow it (see docs/troubleshooting.md)"
	}
	return ""
}

// firstLine is b's first line, trimmed.
func firstLine(b []byte) string {
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return line
}

// commandLine builds the remote command line: [sudo -n --] [env VAR=x...]
// argv, each argument quoted.
func (h *Host) commandLine(argv []string, env []string) (string, error) {
	var full []string
	if h.cfg.Sudo {
		full = append(full, "sudo", "-n", "--")
	}
	if len(env) > 0 {
		full = append(full, "env")
		for _, e := range env {
			name, _, ok := strings.Cut(e, "=")
			if !ok || name == "" {
				return "", fmt.Errorf("run %s: environment entry %q is not NAME=value", argv[0], e)
			}
			full = append(full, e)
		}
		if strings.Contains(argv[0], "=") {
			return "", fmt.Errorf("run %q: a program name with '=' cannot be given an environment", argv[0])
		}
	}
	full = append(full, argv...)
	return Quote(full), nil
}

// Quote joins argv into a command line for a POSIX shell in which every
// element is one word, taken literally: each is single-quoted, with a `'`
// written as `'\”`.
func Quote(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(a, "'", `'\''`))
		b.WriteByte('\'')
	}
	return b.String()
}

// session runs cmd in a new session and returns its exit code. When ctx is
// done it asks for the command to be killed, closes the session and returns
// without waiting. Some servers refuse the kill (OpenSSH logs "session
// signalling requires privilege separation" for some logins); the command
// then runs on until it ends or writes to its closed output.
func (h *Host) session(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	s, release, err := h.newSession(ctx)
	if err != nil {
		return 0, err
	}
	s.Stdin = stdin
	s.Stdout = stdout
	s.Stderr = stderr
	if err := s.Start(cmd); err != nil {
		s.Close()
		release()
		return 0, err
	}
	waited := make(chan error, 1)
	go func() {
		err := s.Wait()
		s.Close()
		release()
		waited <- err
	}()
	select {
	case err = <-waited:
	case <-ctx.Done():
		_ = s.Signal(ssh.SIGKILL)
		s.Close()
		return 0, ctx.Err()
	}
	return exitCode(err)
}

func exitCode(err error) (int, error) {
	var ee *ssh.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee) && ee.Signal() == "":
		return ee.ExitStatus(), nil
	case errors.As(err, &ee):
		return 0, fmt.Errorf("killed by signal %s", ee.Signal())
	}
	return 0, err
}

// newSession opens a session once fewer than maxSessions are open.
func (h *Host) newSession(ctx context.Context) (*ssh.Session, func(), error) {
	select {
	case h.sessions <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	case <-h.done:
		return nil, nil, errors.New("connection closed")
	}
	release := sync.OnceFunc(func() { <-h.sessions })
	s, err := h.conn.NewSession()
	if err != nil {
		release()
		return nil, nil, err
	}
	return s, release, nil
}
