package ssh_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/mailplan/mailplan/resources/testbed"
	"github.com/mailplan/mailplan/resources/transport"
	mpssh "github.com/mailplan/mailplan/resources/transport/ssh"
	"github.com/mailplan/mailplan/resources/transport/transporttest"
)

func dial(t *testing.T, srv *testbed.SSHServer, sudo bool) *mpssh.Host {
	t.Helper()
	cfg := srv.Host
	cfg.Sudo = sudo
	h, err := mpssh.Dial(context.Background(), cfg, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func TestHost(t *testing.T) {
	srv := testbed.SSHD(t)
	transporttest.CheckHost(t, dial(t, srv, false), t.TempDir())
}

// TestHostSudo drives the command-based file operations used with sudo.
func TestHostSudo(t *testing.T) {
	srv := testbed.SSHDWith(t, testbed.SSHDOptions{PathPrepend: []string{testbed.FakeSudo(t)}})
	h := dial(t, srv, true)
	res, err := h.Run(context.Background(), []string{"sh", "-c", `printf %s "$MAILPLAN_FAKE_SUDO"`}, transport.RunOptions{})
	if err != nil || string(res.Stdout) != "1" {
		t.Fatalf("command did not run under sudo: %q, %v", res.Stdout, err)
	}
	transporttest.CheckHost(t, h, t.TempDir())
}

func TestHostKeyRefused(t *testing.T) {
	srv := testbed.SSHD(t)
	port := strconv.Itoa(srv.Host.Port)
	hostPattern := knownhosts.Normalize(net.JoinHostPort("127.0.0.1", port))
	other := testbed.NewKey(t)
	tests := []struct {
		name       string
		knownHosts string // content; "" means no file
		want       []string
	}{
		{"no file", "", []string{"does not exist", "ssh-keyscan -p " + port + " 127.0.0.1 >> "}},
		{"unknown", knownhosts.Line([]string{"[127.0.0.1]:1"}, other) + "\n",
			[]string{"is not in", "ssh-keyscan -p " + port + " 127.0.0.1 >> "}},
		{"changed", knownhosts.Line([]string{hostPattern}, other) + "\n",
			[]string{"CHANGED", ssh.FingerprintSHA256(other), "ssh-keygen -f", "ssh-keyscan -p " + port + " 127.0.0.1 >> "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := srv.Host
			cfg.KnownHosts = filepath.Join(t.TempDir(), "known_hosts")
			if tt.knownHosts != "" {
				if err := os.WriteFile(cfg.KnownHosts, []byte(tt.knownHosts), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			h, err := mpssh.Dial(context.Background(), cfg, hclog.NewNullLogger())
			if err == nil {
				h.Close()
				t.Fatal("Dial succeeded with an untrusted host key")
			}
			t.Logf("the error a user sees: %v", err)
			if !errors.Is(err, transport.ErrHostKey) {
				t.Errorf("error does not wrap ErrHostKey: %v", err)
			}
			want := append(tt.want, ssh.FingerprintSHA256(srv.HostKey), cfg.KnownHosts)
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestRunConcurrent(t *testing.T) {
	srv := testbed.SSHD(t)
	h := dial(t, srv, false)
	// More commands at once than sessions allowed per connection.
	errs := make(chan error, 30)
	for i := range 30 {
		go func() {
			res, err := h.Run(context.Background(), []string{"echo", strconv.Itoa(i)}, transport.RunOptions{})
			if err == nil && string(res.Stdout) != fmt.Sprintf("%d\n", i) {
				err = fmt.Errorf("echo %d printed %q", i, res.Stdout)
			}
			errs <- err
		}()
	}
	for range 30 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestStatFSSyncFS drives the optional FSStater and FSSyncer over SFTP and
// with sudo (df -P, sync -f).
func TestStatFSSyncFS(t *testing.T) {
	for _, sudo := range []bool{false, true} {
		opts := testbed.SSHDOptions{}
		if sudo {
			opts.PathPrepend = []string{testbed.FakeSudo(t)}
		}
		h := dial(t, testbed.SSHDWith(t, opts), sudo)
		dir := t.TempDir()
		free, err := h.StatFS(context.Background(), dir)
		if err != nil || free == 0 {
			t.Errorf("sudo=%v: StatFS = %d, %v", sudo, free, err)
		}
		if _, err := h.StatFS(context.Background(), filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("sudo=%v: StatFS of a missing path: %v", sudo, err)
		}
		if err := h.SyncFS(context.Background(), dir); err != nil {
			t.Errorf("sudo=%v: SyncFS: %v", sudo, err)
		}
	}
}
