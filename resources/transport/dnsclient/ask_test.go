package dnsclient

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
)

func TestCheckRdata(t *testing.T) {
	cases := []struct {
		name, rtype, in, want, err string
	}{
		{"MX upper case, no dot", "MX", "10 MAIL.New.Example.COM", "10 mail.new.example.com.", ""},
		{"AAAA compressed", "AAAA", "2001:DB8:0:0::1", "2001:db8::1", ""},
		{"CNAME", "cname", "Target.example.net.", "target.example.net.", ""},
		{"TXT one string", "TXT", `"v=spf1 mx -all"`, `"v=spf1 mx -all"`, ""},
		{"TXT joined", "TXT", `"v=spf1 " "mx -all"`, `"v=spf1 mx -all"`, ""},
		{"TXT unquoted word", "TXT", `token`, `"token"`, ""},
		{"TXT escaped quote", "TXT", `"a\"b" "c"`, `"a\"bc"`, ""},
		{"SRV", "SRV", "0 1 993 IMAP.example.com", "0 1 993 imap.example.com.", ""},
		{"NS", "NS", "ns1.example.com", "ns1.example.com.", ""},
		{"bad A", "A", "192.0.2.300", "", "A record"},
		{"bad type", "BOGUS", "x", "", "unknown record type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CheckRdata(tc.rtype, tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("CheckRdata(%q, %q) = %q, %v; want an error with %q", tc.rtype, tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("CheckRdata(%q, %q) = %q, %v; want %q", tc.rtype, tc.in, got, err, tc.want)
			}
		})
	}
	// A TXT longer than one string: split by the parser, joined back.
	long := make([]byte, 400)
	for i := range long {
		long[i] = 'k'
	}
	got, err := CheckRdata("TXT", `"`+string(long)+`"`)
	if err != nil || got != `"`+string(long)+`"` {
		t.Fatalf("long TXT: %q, %v", got, err)
	}
}

func rr(t *testing.T, s string) dns.RR {
	t.Helper()
	r, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestAnswerOf(t *testing.T) {
	msg := func(rcode int, answer, ns []dns.RR) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion("www.example.com.", dns.TypeA)
		m.Response, m.Rcode, m.Answer, m.Ns = true, rcode, answer, ns
		return m
	}
	soa := "example.com. 50 IN SOA ns1.example.com. hostmaster.example.com. 1 3600 600 86400 60"
	cases := []struct {
		name string
		m    *dns.Msg
		qt   uint16
		want Answer
	}{
		{"records, lowest TTL", msg(dns.RcodeSuccess, []dns.RR{
			rr(t, "www.example.com. 30 IN A 192.0.2.2"), rr(t, "www.example.com. 20 IN A 192.0.2.1"),
		}, nil), dns.TypeA, Answer{Rcode: "NOERROR", Records: []string{"192.0.2.1", "192.0.2.2"}, TTL: 20}},
		{"CNAME chain", msg(dns.RcodeSuccess, []dns.RR{
			rr(t, "WWW.example.com. 10 IN CNAME web.example.net."), rr(t, "web.example.net. 300 IN CNAME host.example.org."),
			rr(t, "host.example.org. 40 IN A 192.0.2.9"), rr(t, "other.example.org. 1 IN A 192.0.2.10"),
		}, nil), dns.TypeA, Answer{Rcode: "NOERROR", Records: []string{"192.0.2.9"}, TTL: 10}},
		{"CNAME asked for", msg(dns.RcodeSuccess, []dns.RR{rr(t, "www.example.com. 10 IN CNAME Web.Example.net.")}, nil),
			dns.TypeCNAME, Answer{Rcode: "NOERROR", Records: []string{"web.example.net."}, TTL: 10}},
		{"NXDOMAIN, SOA TTL lower", msg(dns.RcodeNameError, nil, []dns.RR{rr(t, soa)}), dns.TypeA, Answer{Rcode: "NXDOMAIN", TTL: 50}},
		{"NODATA, minimum lower", msg(dns.RcodeSuccess, nil, []dns.RR{rr(t, "example.com. 3600 IN SOA ns1.example.com. h.example.com. 1 3600 600 86400 60")}),
			dns.TypeA, Answer{Rcode: "NOERROR", TTL: 60}},
		{"SERVFAIL", msg(dns.RcodeServerFailure, nil, nil), dns.TypeA, Answer{Rcode: "SERVFAIL"}},
		{"TXT joined", msg(dns.RcodeSuccess, []dns.RR{rr(t, `www.example.com. 5 IN TXT "v=spf1 " "-all"`)}, nil),
			dns.TypeTXT, Answer{Rcode: "NOERROR", Records: []string{`"v=spf1 -all"`}, TTL: 5}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := answerOf(tc.m, "www.example.com.", tc.qt)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAskUnreachable: a port with nothing listening is an error of
// kind Unreachable at once, not a wait for the timeout.
func TestAskUnreachable(t *testing.T) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	start := time.Now()
	_, err = Ask(context.Background(), addr, "example.com", "MX", AskOptions{Recursion: true, Timeout: 3 * time.Second})
	if !is(err, Unreachable) {
		t.Fatalf("Ask at %s: %v, want an Unreachable error", addr, err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Ask took %v", took)
	}
	t.Log(err)
}
