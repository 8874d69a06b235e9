package testbed

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailplan/mailplan/engine/resource"
)

// LatencyProxy returns h reached through a TCP proxy on h's loopback
// address that holds every chunk of bytes for delay in each direction, as
// `tc qdisc add … netem delay` would (the test machines' kernels have no
// netem): a round trip then costs 2*delay. The returned Host has the
// proxy's port and a known_hosts file of its own, rewritten for that
// port. The proxy stops when the test ends; connections it accepted end
// when either side closes.
func LatencyProxy(t testing.TB, h resource.Host, delay time.Duration) resource.Host {
	t.Helper()
	target := net.JoinHostPort(h.Address, strconv.Itoa(h.Port))
	ln, err := net.Listen("tcp", net.JoinHostPort(h.Address, "0"))
	if err != nil {
		t.Fatalf("latency proxy: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go pipeDelayed(s, c, delay)
			go pipeDelayed(c, s, delay)
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	kh, err := os.ReadFile(h.KnownHosts)
	if err != nil {
		t.Fatalf("latency proxy: %v", err)
	}
	khs := strings.ReplaceAll(string(kh), "]:"+strconv.Itoa(h.Port)+" ", "]:"+strconv.Itoa(port)+" ")
	khPath := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(khPath, []byte(khs), 0o600); err != nil {
		t.Fatalf("latency proxy: %v", err)
	}
	h.Port, h.KnownHosts = port, khPath
	return h
}

// pipeDelayed copies src to dst, each chunk delay after it was read,
// keeping order; chunks read in the meantime are not held up further.
// When src ends, dst's write side is closed (half-close, so that the
// other direction drains).
func pipeDelayed(dst, src net.Conn, delay time.Duration) {
	type chunk struct {
		at time.Time
		b  []byte
	}
	ch := make(chan chunk, 4096)
	go func() {
		defer close(ch)
		for {
			buf := make([]byte, 64<<10)
			n, err := src.Read(buf)
			if n > 0 {
				ch <- chunk{time.Now().Add(delay), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range ch {
		time.Sleep(time.Until(c.at))
		if _, err := dst.Write(c.b); err != nil {
			break
		}
	}
	for range ch {
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	} else {
		dst.Close()
	}
}
