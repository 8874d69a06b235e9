package exec

import (
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
)

func hostVal(transport, address string, port int, identity string) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"name": cty.StringVal("old"), "transport": cty.StringVal(transport), "address": cty.StringVal(address),
		"port": cty.NumberIntVal(int64(port)), "user": cty.StringVal("root"), "identity_file": cty.StringVal(identity),
		"known_hosts": cty.StringVal("~/.ssh/known_hosts"), "sudo": cty.False,
	})
}

// A host's connection settings do not replace what lives on it; its
// address (or transport) does; a rollback connects the live way.
func TestHostConnectionSettings(t *testing.T) {
	host := &resource.Attribute{Kind: resource.HostRef, ForceNew: true}
	laptop := hostVal("ssh", "Mail.Example.com", 22, "/home/me/.ssh/id_ed25519")
	for _, c := range []struct {
		name string
		live cty.Value
		same bool
	}{
		{"other key, port and case", hostVal("ssh", "mail.example.com", 2222, "/ci/key"), true},
		{"other address", hostVal("ssh", "mail2.example.com", 22, "/home/me/.ssh/id_ed25519"), false},
		{"other transport", hostVal("local", "mail.example.com", 22, ""), false},
		{"unknown", cty.UnknownVal(resource.HostType), false},
	} {
		if got := sameForceNew(host, laptop, c.live); got != c.same {
			t.Errorf("%s: sameForceNew = %v, want %v", c.name, got, c.same)
		}
	}
	if !sameForceNew(&resource.Attribute{}, cty.StringVal("a"), cty.StringVal("a")) || sameForceNew(&resource.Attribute{}, cty.StringVal("a"), cty.StringVal("b")) {
		t.Error("plain attributes compare by value")
	}

	s := &resource.Schema{Attributes: map[string]*resource.Attribute{"host": host, "path": {Type: cty.String}}}
	recorded := cty.ObjectVal(map[string]cty.Value{"host": laptop, "path": cty.StringVal("/etc/aliases")})
	ci := hostVal("ssh", "mail.example.com", 22, "/ci/key")
	got := withLiveConnections(s, recorded, cty.ObjectVal(map[string]cty.Value{"host": ci, "path": cty.StringVal("/etc/other")}))
	if !got.GetAttr("host").RawEquals(ci) || got.GetAttr("path").AsString() != "/etc/aliases" {
		t.Errorf("withLiveConnections = %#v", got)
	}
	moved := hostVal("ssh", "mail2.example.com", 22, "/ci/key")
	got = withLiveConnections(s, recorded, cty.ObjectVal(map[string]cty.Value{"host": moved, "path": cty.StringVal("/etc/aliases")}))
	if !got.RawEquals(recorded) {
		t.Errorf("a host that moved lent its settings: %#v", got)
	}
}
