package dnscheck_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/testbed"
)

// TestConformance: the gate through the shared suite, asking a real named
// through a resourcetest proxy that fails each message in turn (a
// SERVFAIL over UDP). Read and Plan change nothing, Restore is a no-op,
// Apply and Check pass while the server answers as expected and fail on
// a failed answer. The timeout is 1 ns so that the gate looks once and
// gives up, instead of looking again after the failure and passing.
func TestConformance(t *testing.T) {
	t.Parallel()
	n := testbed.Named(t, testbed.NamedOptions{Addr: "127.0.0.4"})
	faults := resourcetest.NewFaults()
	proxy := faults.Proxy(t, n.Server())
	g := newGate(t)
	cfg := g.config(map[string]cty.Value{
		"name": cty.StringVal("example.com."), "type": cty.StringVal("MX"), "expect": strs("10 mail.old.example.com."),
		"resolvers": strs(proxy), "timeout": cty.StringVal("1ns"),
	})
	resourcetest.Conformance(t, resourcetest.Suite{
		Type:   g.g,
		Create: cfg,
		// The zone's MX and TXT as the server has them.
		Observe: func(t testing.TB) []byte {
			out := []byte{}
			for _, rtype := range []string{"MX", "TXT"} {
				ttl, rdata := n.Dig(t, "example.com.", rtype)
				out = fmt.Appendf(out, "%s %d %s\n", rtype, ttl, strings.Join(rdata, " "))
			}
			return out
		},
		Faults: faults,
		Modes:  []resourcetest.Mode{resourcetest.Before, resourcetest.After},
	})
}
