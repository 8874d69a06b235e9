package dnsclient

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mailplan/mailplan/engine/resource"
)

func TestParseRdata(t *testing.T) {
	tests := []struct {
		name, rtype, rdata string
		want               string
		wantErr            string
	}{
		{name: "A", rtype: "A", rdata: "192.0.2.1", want: "192.0.2.1"},
		{name: "AAAA compressed", rtype: "AAAA", rdata: "2001:DB8:0:0:0:0:0:1", want: "2001:db8::1"},
		{name: "MX name made absolute and lower", rtype: "mx", rdata: "10 Mail.New.Example.COM", want: "10 mail.new.example.com."},
		{name: "MX already absolute", rtype: "MX", rdata: "5   mail.example.com.", want: "5 mail.example.com."},
		{name: "CNAME", rtype: "CNAME", rdata: "Mail.Example.com.", want: "mail.example.com."},
		{name: "TXT keeps case", rtype: "TXT", rdata: `"v=spf1 ip4:192.0.2.1 -ALL"`, want: `"v=spf1 ip4:192.0.2.1 -ALL"`},
		{name: "TXT several strings", rtype: "TXT", rdata: `"a" "b"`, want: `"a" "b"`},
		{name: "SRV", rtype: "SRV", rdata: "0 5 993 IMAP.example.com.", want: "0 5 993 imap.example.com."},
		{name: "PTR", rtype: "PTR", rdata: "mail.example.com.", want: "mail.example.com."},
		{name: "CAA tag lower", rtype: "CAA", rdata: `0 ISSUE "letsencrypt.org"`, want: `0 issue "letsencrypt.org"`},
		{name: "TLSA hex lower", rtype: "TLSA", rdata: "3 1 1 ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789", want: "3 1 1 abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"},
		{name: "bad A", rtype: "A", rdata: "192.0.2.300", wantErr: "bad A"},
		{name: "MX without preference", rtype: "MX", rdata: "mail.example.com.", wantErr: "MX"},
		{name: "two lines", rtype: "A", rdata: "192.0.2.1\n192.0.2.2", wantErr: "spans lines"},
		{name: "empty", rtype: "A", rdata: "  ", wantErr: "empty rdata"},
		{name: "unknown type", rtype: "BOGUS", rdata: "x", wantErr: "unknown record type"},
		{name: "include refused", rtype: "A", rdata: "192.0.2.1 $INCLUDE /etc/passwd", wantErr: "A record"},
		{name: "Unicode CNAME target as A-label", rtype: "CNAME", rdata: "München.example.", want: "xn--mnchen-3ya.example."},
		{name: "Unicode MX host as A-label", rtype: "MX", rdata: "10 mail.bücher.example.", want: "10 mail.xn--bcher-kva.example."},
		{name: "Unicode SRV target as A-label", rtype: "SRV", rdata: "0 5 993 imap.bücher.example.", want: "0 5 993 imap.xn--bcher-kva.example."},
		{name: "TXT keeps its UTF-8", rtype: "TXT", rdata: `"grüße"`, want: `"gr\195\188\195\159e"`},
		{name: "IDNA-refused CNAME target", rtype: "CNAME", rdata: "\u0301a.example.", wantErr: "IDNA2008"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRdata(tc.rtype, tc.rdata)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseRdata(%q, %q) = %q, %v; want error containing %q", tc.rtype, tc.rdata, got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseRdata(%q, %q) (-want +got):\n%s", tc.rtype, tc.rdata, diff)
			}
			// Canonical form is a fixed point.
			again, err := ParseRdata(tc.rtype, got)
			if err != nil || again != got {
				t.Errorf("ParseRdata of canonical %q = %q, %v", got, again, err)
			}
		})
	}
}

func TestNames(t *testing.T) {
	tests := []struct {
		zone, name string
		in         bool
	}{
		{"example.com.", "example.com.", true},
		{"Example.COM", "mail.example.com.", true},
		{"example.com.", "example.net.", false},
		{"example.com.", "badexample.com.", false},
		{"example.com.", "a.b.example.com", true},
	}
	for _, tc := range tests {
		if got := InZone(tc.zone, tc.name); got != tc.in {
			t.Errorf("InZone(%q, %q) = %v, want %v", tc.zone, tc.name, got, tc.in)
		}
	}
	if got := Fqdn("Mail.Example.COM"); got != "mail.example.com." {
		t.Errorf("Fqdn = %q", got)
	}
	if diff := cmp.Diff([]string{"a", "b"}, SortRecords([]string{"b", "a", "b"})); diff != "" {
		t.Errorf("SortRecords: %s", diff)
	}
	p, h, err := ParseMX(MXRdata(10, "Mail.Example.com"))
	if err != nil || p != 10 || h != "mail.example.com." {
		t.Errorf("ParseMX(MXRdata) = %d %q %v", p, h, err)
	}
}

func TestNewClient(t *testing.T) {
	const secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQ="
	tests := []struct {
		name    string
		s       resource.DNSServer
		wantErr string
	}{
		{"sha256", resource.DNSServer{Name: "p", Address: "127.0.0.1:53", TSIGKeyName: "k.", TSIGAlgorithm: "hmac-sha256", TSIGSecret: secret}, ""},
		{"md5 long name", resource.DNSServer{Name: "p", Address: "127.0.0.1", TSIGKeyName: "k", TSIGAlgorithm: "hmac-md5.sig-alg.reg.int.", TSIGSecret: secret}, ""},
		{"upper case", resource.DNSServer{Name: "p", Address: "127.0.0.1", TSIGKeyName: "k", TSIGAlgorithm: "HMAC-SHA512", TSIGSecret: secret}, ""},
		{"no key: unsigned", resource.DNSServer{Name: "p", Address: "127.0.0.1"}, ""},
		{"unknown algorithm", resource.DNSServer{Name: "p", Address: "127.0.0.1", TSIGKeyName: "k", TSIGAlgorithm: "gss-tsig", TSIGSecret: secret}, "not supported"},
		{"bad secret", resource.DNSServer{Name: "p", Address: "127.0.0.1", TSIGKeyName: "k", TSIGAlgorithm: "hmac-sha1", TSIGSecret: "not base64!"}, "not base64"},
		{"no address", resource.DNSServer{Name: "p"}, "no address"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.s, nil, Options{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("New = %v, want error containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), tc.s.TSIGSecret) && tc.s.TSIGSecret != "" {
					t.Errorf("error shows the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := fmt.Sprintf("%v %+v", c, c.key); strings.Contains(s, secret) {
				t.Errorf("client prints its secret: %s", s)
			}
		})
	}
	p := NewPool(nil, Options{})
	s := tests[0].s
	a, _ := p.Get(s)
	b, _ := p.Get(s)
	s.Name = "other"
	c, _ := p.Get(s)
	if a != b || a == c {
		t.Errorf("pool: same block gave %p %p, other block %p", a, b, c)
	}
}

// kindIs is the predicate of a kind that has no exported one.
func kindIs(k Kind) func(error) bool {
	return func(err error) bool { return is(err, k) }
}

func TestErrorPredicates(t *testing.T) {
	c, err := New(resource.DNSServer{Name: "primary", Address: "192.0.2.1:53", TSIGKeyName: "mailplan.", TSIGAlgorithm: "hmac-sha256", TSIGSecret: "c2VjcmV0"}, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	kinds := []Kind{Refused, NotAuth, NotZone, Changed, BadKey, BadSig, BadTime, Timeout, Unreachable, NotAuthoritative, OutsideZone}
	preds := map[Kind]func(error) bool{
		Refused: IsRefused, Changed: IsChanged, BadKey: IsBadKey, BadSig: IsBadSig, BadTime: IsBadTime,
		NotAuthoritative: IsNotAuthoritative,
	}
	for _, k := range kinds {
		err := fmt.Errorf("apply: %w", c.fail("update", "example.com.", "example.com.", "MX", k, "", nil))
		for k2, p2 := range preds {
			if got := p2(err); got != (k == k2) {
				t.Errorf("%v: predicate of %v = %v", k, k2, got)
			}
		}
		msg := err.Error()
		for _, want := range []string{`dns_server "primary" (192.0.2.1:53)`, "example.com. MX", k.String()} {
			if !strings.Contains(msg, want) {
				t.Errorf("%v: message %q lacks %q", k, msg, want)
			}
		}
		var e *Error
		if !errors.As(err, &e) || e.Kind != k {
			t.Errorf("%v: errors.As gave %+v", k, e)
		}
	}
}

func TestASCIIName(t *testing.T) {
	tests := []struct {
		name, in, want, wantErr string
	}{
		{name: "ASCII unchanged", in: "_dmarc.Example.com.", want: "_dmarc.Example.com."},
		{name: "U-label", in: "münchen.example.", want: "xn--mnchen-3ya.example."},
		{name: "upper case folded", in: "MÜNCHEN.example.", want: "xn--mnchen-3ya.example."},
		{name: "A-label kept", in: "xn--mnchen-3ya.example.", want: "xn--mnchen-3ya.example."},
		{name: "several labels", in: "bücher.münchen.example", want: "xn--bcher-kva.xn--mnchen-3ya.example"},
		{name: "mixed bidi label refused", in: "ab\u05d0.example.", wantErr: "IDNA2008"},
		{name: "leading combining mark refused", in: "\u0301a.example.", wantErr: "IDNA2008"},
		{name: "invalid UTF-8", in: "\xff.example.", wantErr: "not valid UTF-8"},
		{name: "too long as A-label", in: strings.Repeat("ü", 60) + ".example.", wantErr: "at most 63"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ASCIIName(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ASCIIName(%q) = %q, %v; want an error with %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ASCIIName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

// An RRset of TXT records past 64 KiB cannot be in one message, and the
// UPDATE replacing a large RRset carries it twice.
func TestSizes(t *testing.T) {
	rec := `"` + strings.Repeat("k", 250) + `"`
	set := func(n int) RRset {
		s := RRset{Name: "big.example.com.", Type: "TXT", TTL: 60}
		for i := range n {
			s.Records = append(s.Records, rec[:len(rec)-4]+itoa(i%100)+itoa(i/100)+`"`)
		}
		return s
	}
	small, err := AnswerSize(set(100))
	if err != nil || small > MaxMessage {
		t.Fatalf("100 records: %d octets, %v; want under %d", small, err, MaxMessage)
	}
	if n, _ := AnswerSize(set(300)); n <= MaxMessage {
		t.Errorf("300 records of 250 octets: %d octets, want over %d", n, MaxMessage)
	}
	c, err := New(resource.DNSServer{Name: "primary", Address: "192.0.2.1", TSIGKeyName: "k.", TSIGAlgorithm: "hmac-sha256", TSIGSecret: "c2VjcmV0"}, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	add, err := c.UpdateSize("example.com.", RRset{Name: "big.example.com.", Type: "TXT"}, set(200))
	if err != nil || add > MaxMessage {
		t.Errorf("adding 200 records: %d octets, %v; want under %d", add, err, MaxMessage)
	}
	if both, _ := c.UpdateSize("example.com.", set(200), set(201)); both <= MaxMessage {
		t.Errorf("replacing 200 records by 201: %d octets, want over %d", both, MaxMessage)
	}
}
