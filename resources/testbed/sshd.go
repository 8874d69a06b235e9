package testbed

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
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
	// ConfigPath is the server's sshd_config.
	ConfigPath string

	daemon
}

// SSHDOptions change the server SSHDWith and StartSSHD start.
type SSHDOptions struct {
	// PathPrepend lists directories put before the default PATH of the
	// sessions (e.g. one holding a stand-in sudo).
	PathPrepend []string
	// Dir is the directory for the server's configuration, keys,
	// known_hosts and log: created when missing, else it must be empty.
	// Close removes it. Default: a new temporary directory (SSHD: the
	// test's).
	Dir string
}

// SSHD starts an sshd on 127.0.0.1 for the test and stops it at cleanup.
// Without sshd the test is skipped, or fails when Strict.
func SSHD(t testing.TB) *SSHServer {
	t.Helper()
	return SSHDWith(t, SSHDOptions{})
}

// SSHDWith is SSHD with options.
func SSHDWith(t testing.TB, opts SSHDOptions) *SSHServer {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	return startForTest(t, StartSSHD, opts)
}

// StartSSHD starts an sshd on 127.0.0.1, on a free port, in its own
// session, with a new host key, client key and known_hosts in opts.Dir:
// it takes the current user (root too) with the client key only, and
// serves sftp. Close stops it and removes its directory. Its error
// matches ErrUnavailable when sshd is not installed.
func StartSSHD(opts SSHDOptions) (*SSHServer, error) {
	if _, err := os.Stat(SSHDPath); err != nil {
		return nil, unavailable{fmt.Sprintf("sshd not available: %v", err)}
	}
	// The privilege separation directory; only root can make it, and only
	// root needs it.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil && os.Geteuid() == 0 {
		return nil, fmt.Errorf("mkdir /run/sshd: %w", err)
	}
	u, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("current user: %w", err)
	}
	dir, err := makeServerDir(opts.Dir, "mailplan-sshd-", 0o700)
	if err != nil {
		return nil, err
	}
	s, err := startSSHDIn(dir, u.Username, opts)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// makeServerDir creates dir (mode perm), or checks that it is an empty
// directory; with dir empty it creates a new temporary directory named
// prefix*. It returns the directory's absolute path.
func makeServerDir(dir, prefix string, perm os.FileMode) (string, error) {
	if dir == "" {
		d, err := os.MkdirTemp("", prefix)
		if err != nil {
			return "", err
		}
		return d, os.Chmod(d, perm)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if err := os.Mkdir(dir, perm); err == nil {
		return dir, nil
	} else if !errors.Is(err, fs.ErrExist) {
		return "", err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	if len(entries) > 0 {
		return "", fmt.Errorf("%s is not empty", dir)
	}
	return dir, os.Chmod(dir, perm)
}

func startSSHDIn(dir, username string, opts SSHDOptions) (*SSHServer, error) {
	hostPub, err := writeKey(filepath.Join(dir, "ssh_host_ed25519_key"))
	if err != nil {
		return nil, err
	}
	clientPub, err := writeKey(filepath.Join(dir, "id_ed25519"))
	if err != nil {
		return nil, err
	}
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, ssh.MarshalAuthorizedKey(clientPub), 0o600); err != nil {
		return nil, err
	}

	var srv *SSHServer
	err = onFreePort(freePort, func(port int) (bool, error) {
		s, err := startSSHD(dir, port, opts)
		if err != nil {
			return true, err
		}
		s.HostKey = hostPub
		s.Host = resource.Host{
			Name:         "testssh",
			Transport:    "ssh",
			Address:      "127.0.0.1",
			Port:         port,
			User:         username,
			IdentityFile: filepath.Join(dir, "id_ed25519"),
			KnownHosts:   filepath.Join(dir, "known_hosts"),
		}
		line := knownhosts.Line([]string{knownhosts.Normalize(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))}, hostPub)
		if err := os.WriteFile(s.Host.KnownHosts, []byte(line+"\n"), 0o600); err != nil {
			s.stop()
			return false, err
		}
		srv = s
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("start sshd: %v", err)
	}
	return srv, nil
}

func startSSHD(dir string, port int, opts SSHDOptions) (*SSHServer, error) {
	conf := filepath.Join(dir, "sshd_config")
	logPath := filepath.Join(dir, "sshd.log")
	pidFile := filepath.Join(dir, "sshd.pid")
	lines := []string{
		"ListenAddress 127.0.0.1",
		"Port " + strconv.Itoa(port),
		"HostKey " + filepath.Join(dir, "ssh_host_ed25519_key"),
		"AuthorizedKeysFile " + filepath.Join(dir, "authorized_keys"),
		"PidFile " + pidFile,
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
		return nil, err
	}
	s := &SSHServer{Dir: dir, LogPath: logPath, ConfigPath: conf}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	_, err := s.daemon.start(launch{
		argv:    []string{SSHDPath, "-D", "-e", "-f", conf},
		proc:    Process{Kind: "sshd", Name: "sshd", Config: conf, PIDFile: pidFile, Dir: dir},
		logPath: logPath,
		logMode: 0o600,
		ready: func() error {
			c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
			if err == nil {
				c.Close()
			}
			return err
		},
		serving: "listening on " + addr,
		timeout: 15 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Process identifies the sshd listener, to stop it from another process
// (Process.Stop stops its sessions too).
func (s *SSHServer) Process() Process { return s.proc }

// Close stops the server and its sessions and removes its directory.
// Calling it again does nothing and returns the same error.
func (s *SSHServer) Close() error {
	return s.closeDir(s.Dir)
}

// writeKey writes a new ed25519 private key in OpenSSH format to path and
// returns its public key.
func writeKey(path string) (ssh.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "mailplan test")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(sshPub), 0o644); err != nil {
		return nil, err
	}
	return sshPub, nil
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

// freePort returns a TCP port free on 127.0.0.1 at the time of the call.
func freePort() (int, error) {
	return freePortOn("127.0.0.1")
}

func (s *SSHServer) label() string { return "sshd" }

func (s *SSHServer) logs() []serverLog {
	return []serverLog{{title: "sshd log", path: s.LogPath, all: true}}
}
