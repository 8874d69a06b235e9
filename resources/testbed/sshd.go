package testbed

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/mailplan/mailplan/engine/resource"
)

// SSHDPath is where Debian's openssh-server installs sshd. It is started by
// absolute path because sshd refuses to re-exec itself otherwise.
const SSHDPath = "/usr/sbin/sshd"

// SSHServer is a running sshd.
type SSHServer struct {
	// Host reaches the server as the current user with the client key and
	// a known_hosts file holding the server's key.
	Host resource.Host
	// Dir holds the configuration, keys, known_hosts and log.
	Dir string
	// LogPath is sshd's log, worth reading when a test fails.
	LogPath string
	// HostKey is the server's public host key.
	HostKey ssh.PublicKey
}

// SSHDOptions change the server SSHDWith starts.
type SSHDOptions struct {
	// PathPrepend lists directories put before the default PATH of the
	// sessions (e.g. one holding a stand-in sudo).
	PathPrepend []string
}

// SSHD starts an sshd on 127.0.0.1 for the test and stops it at cleanup.
func SSHD(t testing.TB) *SSHServer {
	t.Helper()
	return SSHDWith(t, SSHDOptions{})
}

// SSHDWith is SSHD with options.
func SSHDWith(t testing.TB, opts SSHDOptions) *SSHServer {
	t.Helper()
	if _, err := os.Stat(SSHDPath); err != nil {
		if Strict() {
			t.Fatalf("%s is required (CI=true or MAILPLAN_E2E=1): %v", SSHDPath, err)
		}
		t.Skipf("sshd not available: %v", err)
	}
	// The privilege separation directory; only root can make it, and only
	// root needs it.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil && os.Geteuid() == 0 {
		t.Fatalf("mkdir /run/sshd: %v", err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatalf("current user: %v", err)
	}

	dir := t.TempDir()
	hostPub := writeKey(t, filepath.Join(dir, "ssh_host_ed25519_key"))
	clientPub := writeKey(t, filepath.Join(dir, "id_ed25519"))
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, ssh.MarshalAuthorizedKey(clientPub), 0o600); err != nil {
		t.Fatal(err)
	}

	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port := freePort(t)
		s, err := startSSHD(t, dir, port, opts)
		if err != nil {
			lastErr = err
			continue
		}
		s.HostKey = hostPub
		s.Host = resource.Host{
			Name:         "testssh",
			Transport:    "ssh",
			Address:      "127.0.0.1",
			Port:         port,
			User:         u.Username,
			IdentityFile: filepath.Join(dir, "id_ed25519"),
			KnownHosts:   filepath.Join(dir, "known_hosts"),
		}
		line := knownhosts.Line([]string{knownhosts.Normalize(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))}, hostPub)
		if err := os.WriteFile(s.Host.KnownHosts, []byte(line+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return s
	}
	t.Fatalf("start sshd: %v", lastErr)
	return nil
}

func startSSHD(t testing.TB, dir string, port int, opts SSHDOptions) (*SSHServer, error) {
	conf := filepath.Join(dir, "sshd_config")
	logPath := filepath.Join(dir, "sshd.log")
	lines := []string{
		"ListenAddress 127.0.0.1",
		"Port " + strconv.Itoa(port),
		"HostKey " + filepath.Join(dir, "ssh_host_ed25519_key"),
		"AuthorizedKeysFile " + filepath.Join(dir, "authorized_keys"),
		"PidFile " + filepath.Join(dir, "sshd.pid"),
		"UsePAM no",
		"StrictModes no",
		"PermitRootLogin prohibit-password",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"Subsystem sftp internal-sftp",
		"MaxSessions 64",
		"MaxStartups 64",
		"LogLevel VERBOSE",
	}
	if len(opts.PathPrepend) > 0 {
		lines = append(lines, "SetEnv PATH="+strings.Join(opts.PathPrepend, ":")+":/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
	}
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(SSHDPath, "-D", "-e", "-f", conf)
	// Not the test's stderr: a child holding it open makes `go test` wait.
	cmd.Stdout = logf
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", SSHDPath, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("sshd exited (%v); its log:\n%s", err, log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("sshd not listening on %s; its log:\n%s", addr, log)
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			if log, err := os.ReadFile(logPath); err == nil {
				t.Logf("sshd log (%s):\n%s", logPath, log)
			}
		}
	})
	return &SSHServer{Dir: dir, LogPath: logPath}, nil
}

// writeKey writes a new ed25519 private key in OpenSSH format to path and
// returns its public key.
func writeKey(t testing.TB, path string) ssh.PublicKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "mailplan test")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(sshPub), 0o644); err != nil {
		t.Fatal(err)
	}
	return sshPub
}

// NewKey returns a fresh ed25519 public key, e.g. to write a known_hosts
// file that does not trust a server.
func NewKey(t testing.TB) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tcp, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		t.Fatalf("listener address %v is not TCP", l.Addr())
	}
	return tcp.Port
}
