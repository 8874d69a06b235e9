package pool_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/testbed"
	"github.com/mailplan/mailplan/resources/transport"
	"github.com/mailplan/mailplan/resources/transport/pool"
)

func TestGetLocal(t *testing.T) {
	p := pool.New(hclog.NewNullLogger())
	defer p.Close()
	ctx := context.Background()
	a, err := p.Get(ctx, resource.Host{Name: "here", Transport: "local"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.Get(ctx, resource.Host{Name: "here", Transport: "local"})
	c, _ := p.Get(ctx, resource.Host{Name: "there", Transport: "local"})
	if a != b {
		t.Errorf("two Gets of one host gave two connections")
	}
	if a == c {
		t.Errorf("two host blocks share a connection")
	}
	if diff := cmp.Diff(`host "here"`, a.Name()); diff != "" {
		t.Errorf("Name (-want +got):\n%s", diff)
	}
}

func TestGetUnknownTransport(t *testing.T) {
	p := pool.New(hclog.NewNullLogger())
	defer p.Close()
	_, err := p.Get(context.Background(), resource.Host{Name: "x", Transport: "telnet"})
	if err == nil || !strings.Contains(err.Error(), `unknown transport "telnet"`) {
		t.Errorf("Get: %v, want an unknown transport error", err)
	}
}

func TestGetSSHConcurrent(t *testing.T) {
	srv := testbed.SSHD(t)
	p := pool.New(hclog.NewNullLogger())
	defer p.Close()
	var wg sync.WaitGroup
	hosts := make([]transport.Host, 20)
	errs := make([]error, 20)
	for i := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hosts[i], errs[i] = p.Get(context.Background(), srv.Host)
		}()
	}
	wg.Wait()
	for i := range hosts {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if hosts[i] != hosts[0] {
			t.Fatalf("Get %d gave another connection", i)
		}
	}
	log, err := os.ReadFile(srv.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(log), "Accepted publickey"); n != 1 {
		t.Errorf("%d logins for 20 concurrent Gets, want 1", n)
	}
}

func TestGetSSHUntrusted(t *testing.T) {
	srv := testbed.SSHD(t)
	p := pool.New(hclog.NewNullLogger())
	defer p.Close()
	h := srv.Host
	h.KnownHosts = t.TempDir() + "/missing"
	if _, err := p.Get(context.Background(), h); !errors.Is(err, transport.ErrHostKey) {
		t.Errorf("Get with no known key: %v, want ErrHostKey", err)
	}
	// A failed dial is not remembered.
	if _, err := p.Get(context.Background(), srv.Host); err != nil {
		t.Errorf("Get with the known key: %v", err)
	}
}

func TestRunHook(t *testing.T) {
	srv := testbed.SSHD(t)
	hosts := map[string]resource.Host{
		"local": {Name: "here", Transport: "local"},
		"ssh":   srv.Host,
	}
	tests := []struct {
		name     string
		argv     []string
		want     string
		wantCode int // 0: no error
	}{
		{"ok", []string{"sh", "-c", "echo out; echo err >&2"}, "out\nerr\n", 0},
		{"fails", []string{"sh", "-c", "echo broken >&2; exit 4"}, "broken\n", 4},
		{"argv stays argv", []string{"echo", "a; exit 9"}, "a; exit 9\n", 0},
	}
	p := pool.New(hclog.NewNullLogger())
	defer p.Close()
	for hname, h := range hosts {
		for _, tt := range tests {
			t.Run(hname+" "+tt.name, func(t *testing.T) {
				out, err := p.RunHook(context.Background(), h, tt.argv)
				if diff := cmp.Diff(tt.want, string(out)); diff != "" {
					t.Errorf("output (-want +got):\n%s", diff)
				}
				var ee *transport.ExitError
				switch {
				case tt.wantCode == 0 && err != nil:
					t.Errorf("unexpected error: %v", err)
				case tt.wantCode != 0 && !errors.As(err, &ee):
					t.Errorf("error %v, want an ExitError", err)
				case tt.wantCode != 0 && ee.Code != tt.wantCode:
					t.Errorf("exit code %d, want %d", ee.Code, tt.wantCode)
				}
			})
		}
	}
}

func TestClose(t *testing.T) {
	srv := testbed.SSHD(t)
	p := pool.New(hclog.NewNullLogger())
	h, err := p.Get(context.Background(), srv.Host)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Run(context.Background(), []string{"true"}, transport.RunOptions{}); err == nil {
		t.Errorf("Run on a closed connection succeeded")
	}
	if _, err := p.Get(context.Background(), srv.Host); err == nil {
		t.Errorf("Get after Close succeeded")
	}
}
