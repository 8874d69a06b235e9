package resource

import (
	"fmt"

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

// HostFromValue decodes a HostRef attribute value.
func HostFromValue(v cty.Value) (Host, error) {
	var h Host
	if v.IsNull() || !v.IsKnown() {
		return h, fmt.Errorf("no host given")
	}
	v, _ = v.UnmarkDeep()
	conv := map[string]cty.Value{}
	for name, t := range HostType.AttributeTypes() {
		av := v.GetAttr(name)
		if av.IsNull() {
			switch t {
			case cty.Number:
				av = cty.Zero
			case cty.Bool:
				av = cty.False
			default:
				av = cty.StringVal("")
			}
		}
		conv[name] = av
	}
	if err := gocty.FromCtyValue(cty.ObjectVal(conv), &h); err != nil {
		return h, fmt.Errorf("decode host: %w", err)
	}
	return h, nil
}

// DNSServerFromValue decodes a DNSServerRef attribute value.
func DNSServerFromValue(v cty.Value) (DNSServer, error) {
	var s DNSServer
	if v.IsNull() || !v.IsKnown() {
		return s, fmt.Errorf("no dns_server given")
	}
	v, _ = v.UnmarkDeep()
	conv := map[string]cty.Value{}
	for name := range DNSServerType.AttributeTypes() {
		av := v.GetAttr(name)
		if av.IsNull() {
			av = cty.StringVal("")
		}
		conv[name] = av
	}
	if err := gocty.FromCtyValue(cty.ObjectVal(conv), &s); err != nil {
		return s, fmt.Errorf("decode dns_server: %w", err)
	}
	return s, nil
}
