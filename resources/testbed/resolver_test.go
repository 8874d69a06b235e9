package testbed

import (
	"os"
	"reflect"
	"testing"
	"time"
)

func TestResolverOptionsChecked(t *testing.T) {
	for _, opts := range []ResolverOptions{
		{Upstream: "127.0.0.4"},
		{Upstream: "10.0.0.1:53"},
		{Upstream: "127.0.0.4:0"},
		{Upstream: "127.0.0.4:53", Addr: "192.0.2.1"},
		{Upstream: "127.0.0.4:53", Dir: "/tmp/a dir"},
	} {
		if r, err := StartResolver(opts); err == nil {
			r.Close()
			t.Errorf("StartResolver(%+v) succeeded", opts)
		}
	}
}

// TestResolver: the resolver answers from the authoritative server, then
// from its cache: after a change in the zone it still gives the old
// records, their TTL counting down, until the TTL runs out.
func TestResolver(t *testing.T) {
	t.Parallel()
	n := Named(t, NamedOptions{Addr: "127.0.0.4"})
	r := Resolver(t, n.Server())
	if r.Addr != "127.0.0.5" || r.Port == 0 || r.Upstream != n.Server() {
		t.Fatalf("resolver %s forwarding to %s", r.Server(), r.Upstream)
	}
	const ttl = 2
	n.SetRRset(t, "cached.example.com.", "A", ttl, "192.0.2.1")
	primed := time.Now()
	if got, a := r.Dig(t, "cached.example.com.", "A"); got > ttl || !reflect.DeepEqual(a, []string{"192.0.2.1"}) {
		t.Fatalf("first answer: TTL %d %q", got, a)
	}
	n.SetRRset(t, "cached.example.com.", "A", ttl, "192.0.2.2")
	// Right after the change: the cache's answer.
	if _, a := r.Dig(t, "cached.example.com.", "A"); !reflect.DeepEqual(a, []string{"192.0.2.1"}) && time.Since(primed) < ttl*time.Second-time.Second {
		t.Fatalf("answer from the cache: %q, want the old record", a)
	}
	// A negative answer, from the zone's SOA.
	if a, err := r.Query("nothing.example.com.", "A"); err != nil || a.Status != "NXDOMAIN" {
		t.Fatalf("NXDOMAIN: %+v %v", a, err)
	}
	deadline := time.Now().Add(ttl*time.Second + 5*time.Second)
	for {
		_, a := r.Dig(t, "cached.example.com.", "A")
		if reflect.DeepEqual(a, []string{"192.0.2.2"}) {
			if took := time.Since(primed); took < ttl*time.Second-time.Second {
				t.Fatalf("new record after %v, before the TTL of %d s ran out", took, ttl)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %q %v after the change", a, time.Since(primed))
		}
		time.Sleep(200 * time.Millisecond) // polling the cache: it changes with time only
	}
	dir := r.Dir
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("directory %s left after Close: %v", dir, err)
	}
}
