package resource

import (
	"fmt"
	"reflect"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"
)

// HostType is the value of host.NAME in expressions and of HostRef
// attributes.
var HostType = cty.Object(map[string]cty.Type{
	"name":          cty.String,
	"transport":     cty.String,
	"address":       cty.String,
	"port":          cty.Number,
	"user":          cty.String,
	"identity_file": cty.String,
	"known_hosts":   cty.String,
	"sudo":          cty.Bool,
})

// DNSServerType is the value of dns_server.NAME. Its tsig_secret is marked
// sensitive by the engine.
var DNSServerType = cty.Object(map[string]cty.Type{
	"name":           cty.String,
	"address":        cty.String,
	"tsig_key_name":  cty.String,
	"tsig_algorithm": cty.String,
	"tsig_secret":    cty.String,
})

// Host is a decoded host block.
type Host struct {
	Name         string `cty:"name"`
	Transport    string `cty:"transport"` // "ssh" or "local"
	Address      string `cty:"address"`
	Port         int    `cty:"port"`
	User         string `cty:"user"`
	IdentityFile string `cty:"identity_file"` // "" means the ssh-agent
	KnownHosts   string `cty:"known_hosts"`
	Sudo         bool   `cty:"sudo"`
}

// String names the host for messages: `host "old" (root@203.0.113.10:22)`.
func (h Host) String() string {
	if h.Transport == "local" {
		return fmt.Sprintf("host %q (local)", h.Name)
	}
	return fmt.Sprintf("host %q (%s@%s:%d)", h.Name, h.User, h.Address, h.Port)
}

// DNSServer is a decoded dns_server block.
type DNSServer struct {
	Name          string `cty:"name"`
	Address       string `cty:"address"`
	TSIGKeyName   string `cty:"tsig_key_name"`
	TSIGAlgorithm string `cty:"tsig_algorithm"`
	TSIGSecret    string `cty:"tsig_secret"`
}

// Key names the host's target for claims and locks: the same for every
// host block that reaches the same account on the same machine, "local" or
// USER@ADDRESS:PORT.
func (h Host) Key() string {
	if h.Transport == "local" {
		return "local"
	}
	return fmt.Sprintf("%s@%s:%d", h.User, h.Address, h.Port)
}

// HostFromValue decodes a HostRef attribute value. Its attributes that are
// null are zero.
func HostFromValue(v cty.Value) (Host, error) {
	var h Host
	err := decodeRef(v, HostType, "host", &h)
	return h, err
}

// DNSServerFromValue decodes a DNSServerRef attribute value. Its
// attributes that are null are "".
func DNSServerFromValue(v cty.Value) (DNSServer, error) {
	var s DNSServer
	err := decodeRef(v, DNSServerType, "dns_server", &s)
	return s, err
}

// decodeRef decodes the value of a reference to a block of type ty, named
// what in messages.
func decodeRef(v cty.Value, ty cty.Type, what string, into any) error {
	if v.IsNull() || !v.IsKnown() {
		return fmt.Errorf("no %s given", what)
	}
	if err := decodeBlock(v, ty, into); err != nil {
		return fmt.Errorf("decode %s: %w", what, err)
	}
	return nil
}

// decodeBlock decodes the attributes of ty in v (others are left out)
// into the struct into points to.
func decodeBlock(v cty.Value, ty cty.Type, into any) error {
	v = Unmarked(v)
	attrs := map[string]cty.Value{}
	for name := range ty.AttributeTypes() {
		attrs[name] = v.GetAttr(name)
	}
	return gocty.FromCtyValue(zeroNulls(cty.ObjectVal(attrs), reflect.TypeOf(into).Elem()), into)
}
