package resource

import (
	"fmt"
	"math/big"
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
	if h, ok := hostFast(v); ok {
		return h, nil
	}
	var h Host
	err := decodeRef(v, HostType, "host", &h)
	return h, err
}

// hostFast decodes an unmarked, wholly known host value whose attributes
// have their plain types and an integer port field by field, as
// decodeRef would: every resource of a plan decodes its host several
// times, and the general path (a copy of the value, reflection) was a
// tenth of a no-change plan. ok is false for anything else, which then
// takes the general path and its errors.
func hostFast(v cty.Value) (h Host, ok bool) {
	if v.IsMarked() || v.IsNull() || !v.IsKnown() || !v.Type().IsObjectType() {
		return h, false
	}
	ty := v.Type()
	str := func(name string, into *string) bool {
		if !ty.HasAttribute(name) || ty.AttributeType(name) != cty.String {
			return false
		}
		a := v.GetAttr(name)
		if a.IsMarked() || !a.IsKnown() {
			return false
		}
		if !a.IsNull() {
			*into = a.AsString()
		}
		return true
	}
	if !str("name", &h.Name) || !str("transport", &h.Transport) || !str("address", &h.Address) ||
		!str("user", &h.User) || !str("identity_file", &h.IdentityFile) || !str("known_hosts", &h.KnownHosts) {
		return h, false
	}
	if !ty.HasAttribute("port") || ty.AttributeType("port") != cty.Number || !ty.HasAttribute("sudo") || ty.AttributeType("sudo") != cty.Bool {
		return h, false
	}
	port, sudo := v.GetAttr("port"), v.GetAttr("sudo")
	if port.IsMarked() || !port.IsKnown() || sudo.IsMarked() || !sudo.IsKnown() {
		return h, false
	}
	if !port.IsNull() {
		n, acc := port.AsBigFloat().Int64()
		if acc != big.Exact || n != int64(int(n)) {
			return h, false
		}
		h.Port = int(n)
	}
	if !sudo.IsNull() {
		h.Sudo = sudo.True()
	}
	return h, true
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
