package dns

import (
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/testbed"
	"github.com/mailplan/mailplan/resources/transport/dnsclient"
)

// bed is a named with every TSIG algorithm, and the types wired to it.
type bed struct {
	n      *testbed.NamedServer
	pool   *dnsclient.Pool
	record *Record
	mx     *MX
}

func newBed(t *testing.T, addr string, zones ...string) *bed {
	t.Helper()
	if len(zones) == 0 {
		zones = []string{"example.com."}
	}
	n := testbed.Named(t, testbed.NamedOptions{Addr: addr, Zones: zones, Algorithms: testbed.NamedAlgorithms})
	p := dnsclient.NewPool(resourcetest.Logger(t), dnsclient.Options{Timeout: 2 * time.Second})
	return &bed{n: n, pool: p, record: NewRecord(p), mx: NewMX(p)}
}

// server is the dns_server value of the key of algorithm alg.
func (b *bed) server(t testing.TB, alg string) cty.Value {
	t.Helper()
	k := b.n.Keys[alg]
	return serverValue(t, resource.DNSServer{Name: "primary", Address: b.n.Server(), TSIGKeyName: k.Name, TSIGAlgorithm: k.Algorithm, TSIGSecret: k.Secret})
}

func serverValue(t testing.TB, s resource.DNSServer) cty.Value {
	t.Helper()
	v, err := gocty.ToCtyValue(s, resource.DNSServerType)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustServer(t testing.TB, v cty.Value) resource.DNSServer {
	t.Helper()
	s, err := resource.DNSServerFromValue(v)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
