package dnsclient

import (
	"strings"
	"testing"

	"github.com/mailplan/mailplan/engine/resource"
)

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
