package dnsclient

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailplan/mailplan/engine/resource"
)

// TestVerifyKey: the signed SOA query accepts the right key, costs one
// round trip per client whatever the number of calls and zones, and turns
// each way a key can be wrong into its error naming the key.
func TestVerifyKey(t *testing.T) {
	n := startNamed(t)
	good := serverOf(n, "hmac-sha256")
	ctx := context.Background()

	c, err := New(good, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := c.VerifyKey(ctx, "example.com."); err != nil {
			t.Fatalf("right key: %v", err)
		}
	}
	if c.RoundTrips() != 1 {
		t.Errorf("three checks took %d round trips, want 1", c.RoundTrips())
	}
	unsigned, _ := New(resource.DNSServer{Name: "primary", Address: n.Server()}, nil, Options{})
	if err := unsigned.VerifyKey(ctx, "example.com."); err != nil || unsigned.RoundTrips() != 0 {
		t.Errorf("no key: %v after %d round trips, want nothing sent", err, unsigned.RoundTrips())
	}

	with := func(f func(*resource.DNSServer)) resource.DNSServer {
		s := good
		f(&s)
		return s
	}
	tests := []struct {
		name string
		s    resource.DNSServer
		opts Options
		zone string
		is   func(error) bool
		want string
	}{
		{"BADKEY: unknown key name", with(func(s *resource.DNSServer) { s.TSIGKeyName = "nosuchkey." }), Options{}, "example.com.", IsBadKey, "check tsig_key_name and tsig_algorithm"},
		{"BADKEY: wrong algorithm", with(func(s *resource.DNSServer) { s.TSIGAlgorithm = "hmac-sha512" }), Options{}, "example.com.", IsBadKey, "nosuchkey"},
		{"BADSIG: wrong secret", with(func(s *resource.DNSServer) { s.TSIGSecret = "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZy0=" }), Options{}, "example.com.", IsBadSig, "check tsig_secret"},
		{"BADTIME: clock an hour behind", good, Options{Now: func() time.Time { return time.Now().Add(-time.Hour) }}, "example.com.", IsBadTime, "NTP"},
		{"zone not served", good, Options{}, "example.org.", IsNotAuthoritative, "example.org."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.s, nil, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			err = c.VerifyKey(ctx, tc.zone)
			if !tc.is(err) {
				t.Fatalf("error %v does not match", err)
			}
			t.Log(err)
			msg := err.Error()
			if strings.Contains(tc.name, "BAD") && !strings.Contains(msg, c.KeyName()) {
				t.Errorf("message does not name the key %s: %s", c.KeyName(), msg)
			}
			if !strings.Contains(msg, `dns_server "primary"`) || strings.Contains(msg, tc.s.TSIGSecret) {
				t.Errorf("message does not name the block, or shows the secret: %s", msg)
			}
			if tc.want != "nosuchkey" && !strings.Contains(msg, tc.want) {
				t.Errorf("message does not say %q: %s", tc.want, msg)
			}
			if done, kept := c.KeyChecked(); !done || kept == nil {
				t.Errorf("outcome not kept: %v %v", done, kept)
			}
			trips := c.RoundTrips()
			if c.VerifyKey(ctx, "example.com.") == nil || c.RoundTrips() != trips {
				t.Error("a second check did not return the kept failure without a query")
			}
		})
	}
}

// TestVerifyKeyAnswer: an answer whose signature does not verify (the
// server has another secret under the same key name), or that carries no
// signature at all, fails the check as BADSIG: only a verified answer
// proves the key.
func TestVerifyKeyAnswer(t *testing.T) {
	const keyName = "mailplan-test."
	ours := "b3Vycy1vdXJzLW91cnMtb3Vycy1vdXJzLW91cnMtb3U="
	theirs := "dGhlaXJzLXRoZWlycy10aGVpcnMtdGhlaXJzLXRoZWk="
	tests := []struct {
		name string
		sign bool
		want string
	}{
		{"signed with another secret", true, "did not verify"},
		{"not signed", false, "carries no TSIG record"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := fakeSOAServer(t, tc.sign, map[string]string{keyName: theirs})
			c, err := New(resource.DNSServer{Name: "primary", Address: addr, TSIGKeyName: keyName, TSIGAlgorithm: "hmac-sha256", TSIGSecret: ours}, nil, Options{Timeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			err = c.VerifyKey(context.Background(), "example.com.")
			if !IsBadSig(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want BADSIG saying %q", err, tc.want)
			}
			t.Log(err)
		})
	}
}

// fakeSOAServer answers every query with an authoritative SOA, signed with
// secrets when sign is set (whether or not the query's signature verified
// with them), unsigned otherwise.
func fakeSOAServer(t *testing.T, sign bool, secrets map[string]string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, TsigSecret: secrets, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Authoritative = true
		soa, _ := dns.NewRR(q.Question[0].Name + " 3600 IN SOA ns1.example.com. hostmaster.example.com. 1 3600 600 86400 300")
		m.Answer = []dns.RR{soa}
		if tsig := q.IsTsig(); sign && tsig != nil {
			m.SetTsig(tsig.Hdr.Name, tsig.Algorithm, 300, time.Now().Unix())
		}
		_ = w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}
