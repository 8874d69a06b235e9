package dnsclient

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/testbed"
)

func startNamed(t *testing.T) *testbed.NamedServer {
	t.Helper()
	return testbed.Named(t, testbed.NamedOptions{Addr: "127.0.0.4", Algorithms: testbed.NamedAlgorithms})
}

func serverOf(n *testbed.NamedServer, alg string) resource.DNSServer {
	k := n.Keys[alg]
	return resource.DNSServer{Name: "primary", Address: n.Server(), TSIGKeyName: k.Name, TSIGAlgorithm: k.Algorithm, TSIGSecret: k.Secret}
}

// TestAlgorithms: an update signed with each algorithm BIND offers is
// accepted, and its signed response verifies.
func TestAlgorithms(t *testing.T) {
	n := startNamed(t)
	ctx := context.Background()
	for _, alg := range testbed.NamedAlgorithms {
		t.Run(alg, func(t *testing.T) {
			c, err := New(serverOf(n, alg), nil, Options{})
			if err != nil {
				t.Fatal(err)
			}
			name := strings.ReplaceAll(alg, "hmac-", "") + ".example.com."
			before, err := c.Read(ctx, "example.com.", name, "TXT")
			if err != nil || before.Exists() {
				t.Fatalf("read before: %+v %v", before, err)
			}
			want := RRset{Name: name, Type: "TXT", TTL: 60, Records: []string{`"` + alg + `"`}}
			if err := c.Update(ctx, "example.com.", before, want); err != nil {
				t.Fatal(err)
			}
			got, err := c.Read(ctx, "example.com.", name, "TXT")
			if err != nil || !got.Equal(want) {
				t.Fatalf("read after: %+v %v", got, err)
			}
			if err := c.Update(ctx, "example.com.", got, RRset{Name: name, Type: "TXT"}); err != nil {
				t.Fatalf("delete: %v", err)
			}
		})
	}
}

// TestErrors provokes each failure on purpose and checks its predicate,
// and that the message names the block and the record but not the secret.
func TestErrors(t *testing.T) {
	n := startNamed(t)
	good := serverOf(n, "hmac-sha256")
	ctx := context.Background()
	mx := RRset{Name: "example.com.", Type: "MX", TTL: 86400, Records: []string{"10 mail.old.example.com."}}
	newMX := RRset{Name: "example.com.", Type: "MX", TTL: 300, Records: []string{"10 mail.new.example.com."}}

	silentUDP, err := net.ListenPacket("udp", "127.0.0.4:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silentUDP.Close()
	silentTCP, err := net.Listen("tcp", "127.0.0.4:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silentTCP.Close()
	go func() {
		for {
			c, err := silentTCP.Accept()
			if err != nil {
				return
			}
			defer c.Close() // never answers
		}
	}()
	closed, err := net.ListenPacket("udp", "127.0.0.4:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.LocalAddr().String()
	closed.Close()

	with := func(f func(*resource.DNSServer)) resource.DNSServer { return changed(good, f) }
	tests := []struct {
		name string
		s    resource.DNSServer
		opts Options
		op   func(c *Client) error
		is   func(error) bool
	}{
		{"REFUSED: unsigned update", with(func(s *resource.DNSServer) { s.TSIGKeyName = "" }), Options{},
			func(c *Client) error { return c.Update(ctx, "example.com.", mx, newMX) }, IsRefused},
		{"NOTAUTH: zone not served", good, Options{},
			func(c *Client) error {
				return c.Update(ctx, "example.org.", RRset{Name: "example.org.", Type: "MX"}, RRset{Name: "example.org.", Type: "MX", TTL: 300, Records: []string{"10 mx.example.org."}})
			}, kindIs(NotAuth)},
		{"NOTZONE: name outside the zone", good, Options{},
			func(c *Client) error {
				m := new(dns.Msg)
				m.SetUpdate("example.com.")
				rr, _ := dns.NewRR("mail.example.org. 300 IN A 127.0.0.3")
				m.Insert([]dns.RR{rr})
				m.SetTsig(c.key.name, algorithms[c.key.alg].wire, fudge, time.Now().Unix())
				return c.send(ctx, m, "example.com.", "mail.example.org.", "A")
			}, kindIs(NotZone)},
		{"outside zone: refused before sending", good, Options{},
			func(c *Client) error {
				return c.Update(ctx, "example.com.", RRset{Name: "mail.example.org.", Type: "A"}, RRset{})
			}, kindIs(OutsideZone)},
		{"BADKEY: unknown key name", with(func(s *resource.DNSServer) { s.TSIGKeyName = "nosuchkey." }), Options{},
			func(c *Client) error { return c.Update(ctx, "example.com.", mx, newMX) }, IsBadKey},
		{"BADSIG: wrong secret", with(func(s *resource.DNSServer) { s.TSIGSecret = "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZy0=" }), Options{},
			func(c *Client) error { return c.Update(ctx, "example.com.", mx, newMX) }, IsBadSig},
		{"BADTIME: clock an hour off", good, Options{Now: func() time.Time { return time.Now().Add(-time.Hour) }},
			func(c *Client) error { return c.Update(ctx, "example.com.", mx, newMX) }, IsBadTime},
		{"timeout: read from a silent server", with(func(s *resource.DNSServer) { s.Address = silentUDP.LocalAddr().String() }), Options{Timeout: 300 * time.Millisecond},
			func(c *Client) error { _, err := c.Read(ctx, "example.com.", "example.com.", "MX"); return err }, kindIs(Timeout)},
		{"timeout: update to a silent server", with(func(s *resource.DNSServer) { s.Address = silentTCP.Addr().String() }), Options{Timeout: 300 * time.Millisecond},
			func(c *Client) error { return c.Update(ctx, "example.com.", mx, newMX) }, kindIs(Timeout)},
		{"unreachable: nothing listening", with(func(s *resource.DNSServer) { s.Address = closedAddr }), Options{Timeout: 300 * time.Millisecond},
			func(c *Client) error { _, err := c.Read(ctx, "example.com.", "example.com.", "MX"); return err }, kindIs(Unreachable)},
		{"not authoritative: zone not served", good, Options{},
			func(c *Client) error { _, err := c.Read(ctx, "example.org.", "example.org.", "MX"); return err }, IsNotAuthoritative},
		{"changed: prerequisite fails", good, Options{},
			func(c *Client) error {
				stale := mx
				stale.Records = []string{"10 someone.else.example.com."}
				return c.Update(ctx, "example.com.", stale, newMX)
			}, IsChanged},
		{"changed: RRset exists though read absent", good, Options{},
			func(c *Client) error {
				return c.Update(ctx, "example.com.", RRset{Name: "example.com.", Type: "MX"}, newMX)
			}, IsChanged},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.s, nil, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			err = tc.op(c)
			if !tc.is(err) {
				t.Fatalf("error %v (%T) does not match", err, err)
			}
			t.Log(err)
			msg := err.Error()
			if !strings.Contains(msg, `dns_server "primary"`) {
				t.Errorf("message does not name the block: %s", msg)
			}
			if tc.s.TSIGSecret != "" && strings.Contains(msg, tc.s.TSIGSecret) {
				t.Errorf("message shows the secret: %s", msg)
			}
		})
	}
	// Nothing of the above changed the MX.
	ttl, rdata := n.Dig(t, "example.com.", "MX")
	if ttl != 86400 || len(rdata) != 1 || rdata[0] != "10 mail.old.example.com." {
		t.Errorf("MX after the failures: %d %v", ttl, rdata)
	}
}

// TestTruncatedRetriesOverTCP: an RRset too large for a UDP answer is
// read whole over TCP.
func TestTruncatedRetriesOverTCP(t *testing.T) {
	n := startNamed(t)
	c, err := New(serverOf(n, "hmac-sha256"), nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var big RRset
	big.Name, big.Type, big.TTL = "big.example.com.", "TXT", 60
	for i := range 40 {
		big.Records = append(big.Records, `"`+strings.Repeat(string(rune('a'+i%26)), 100)+itoa(i)+`"`)
	}
	big.Records = SortRecords(big.Records)
	if err := c.Update(ctx, "example.com.", RRset{Name: big.Name, Type: "TXT"}, big); err != nil {
		t.Fatal(err)
	}
	trips := c.RoundTrips()
	got, err := c.Read(ctx, "example.com.", big.Name, "TXT")
	if err != nil || !got.Equal(big) {
		t.Fatalf("read of a big RRset: %d records, %v", len(got.Records), err)
	}
	if c.RoundTrips()-trips != 2 {
		t.Errorf("read of a big RRset took %d round trips, want 2 (UDP truncated, then TCP)", c.RoundTrips()-trips)
	}
}

func itoa(i int) string { return string(rune('0'+i/10)) + string(rune('0'+i%10)) }

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

	with := func(f func(*resource.DNSServer)) resource.DNSServer { return changed(good, f) }
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

// changed is s with f's change.
func changed(s resource.DNSServer, f func(*resource.DNSServer)) resource.DNSServer {
	f(&s)
	return s
}
