package dns

import (
	"fmt"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/testbed"
)

// TestConformance drives every record type through the shared suite on
// a real named: create (or change, where the zone has the RRset), no-op
// re-plan, update, rollback and destroy back to the exact RRset and TTL,
// each with another TSIG algorithm; every message goes through a
// resourcetest proxy that fails each exchange of an apply in turn.
func TestConformance(t *testing.T) {
	b := newBed(t, "127.0.0.4")
	faults := resourcetest.NewFaults()
	proxy := faults.Proxy(t, b.n.Server())
	// server is the dns_server value of the key of algorithm alg, at the
	// proxy.
	server := func(t *testing.T, alg string) cty.Value {
		s := mustServer(t, b.server(t, alg))
		s.Address = proxy
		return serverValue(t, s)
	}
	hex1 := strings.Repeat("ab", 32)
	hex2 := strings.Repeat("CD", 32)
	cases := []struct {
		rtype, name    string
		create, update []string
	}{
		{"A", "www", []string{"192.0.2.10"}, []string{"192.0.2.10", "192.0.2.11"}},
		{"AAAA", "v6", []string{"2001:db8::1"}, []string{"2001:DB8:0::2"}},
		{"CNAME", "webmail", []string{"imap.example.com."}, []string{"smtp.example.com"}},
		{"TXT", "@", []string{`"v=spf1 mx a:mail.new.example.com -all"`}, []string{`"v=spf1 ip4:127.0.0.3 -all"`, `"google-site-verification=x"`}},
		{"MX", "sub", []string{"10 mail.new.example.com."}, []string{"10 mail.new.example.com.", "20 mail.old.example.com."}},
		{"SRV", "_imaps._tcp", []string{"0 1 993 imap.example.com."}, []string{"0 1 993 mail.new.example.com."}},
		{"PTR", "3.0.0.127", []string{"mail.new.example.com."}, []string{"mail.old.example.com."}},
		{"CAA", "@", []string{`0 issue "letsencrypt.org"`}, []string{`0 issue "letsencrypt.org"`, `0 iodef "mailto:hostmaster@example.com"`}},
		{"TLSA", "_25._tcp.mail.new", []string{"3 1 1 " + hex1}, []string{"3 1 1 " + hex2}},
	}
	for i, tc := range cases {
		alg := testbed.NamedAlgorithms[i%len(testbed.NamedAlgorithms)]
		t.Run(tc.rtype+"/"+alg, func(t *testing.T) {
			cfg := func(records []string, ttl int64) cty.Value {
				return resourcetest.Config(t, b.record, map[string]cty.Value{
					"server": server(t, alg), "zone": cty.StringVal("example.com."), "name": cty.StringVal(tc.name),
					"type": cty.StringVal(tc.rtype), "ttl": cty.NumberIntVal(ttl), "records": strs(records...),
				})
			}
			fq := resolveName("example.com.", tc.name)
			resourcetest.Conformance(t, resourcetest.Suite{
				Type:    b.record,
				Create:  cfg(tc.create, 600),
				Update:  cfg(tc.update, 1200),
				Observe: func(t testing.TB) []byte { return b.observe(t, fq, tc.rtype) },
				Faults:  faults,
			})
		})
	}
	t.Run("mx_record", func(t *testing.T) {
		cfg := func(ttl int64, ex ...string) cty.Value {
			var vals []cty.Value
			for i, h := range ex {
				vals = append(vals, cty.ObjectVal(map[string]cty.Value{"preference": cty.NumberIntVal(int64(10 * (i + 1))), "host": cty.StringVal(h)}))
			}
			return resourcetest.Config(t, b.mx, map[string]cty.Value{
				"server": server(t, "hmac-sha256"), "zone": cty.StringVal("example.com"), "ttl": cty.NumberIntVal(ttl), "exchanges": cty.ListVal(vals),
			})
		}
		resourcetest.Conformance(t, resourcetest.Suite{
			Type:    b.mx,
			Create:  cfg(3600, "mail.new.example.com"),
			Update:  cfg(3600, "mail.new.example.com.", "mail.old.example.com."),
			Observe: func(t testing.TB) []byte { return b.observe(t, "example.com.", "MX") },
			Faults:  faults,
		})
	})
}

// observe is the RRset as dig sees it: TTL and data.
func (b *bed) observe(t testing.TB, name, rtype string) []byte {
	t.Helper()
	ttl, rdata := b.n.Dig(t, name, rtype)
	return fmt.Appendf(nil, "%d %s", ttl, strings.Join(rdata, "\n"))
}

var _ resource.Type = (*Record)(nil)
