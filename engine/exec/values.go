package exec

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/mailplan/mailplan/engine/lang"
	"github.com/mailplan/mailplan/engine/resource"
)

// encodeValue is the state form of a value: JSON with sensitive parts null.
func encodeValue(v cty.Value, t cty.Type) (json.RawMessage, []string, error) {
	if v == cty.NilVal {
		v = cty.NullVal(t)
	}
	stripped, paths := lang.StripSensitive(v)
	b, err := ctyjson.Marshal(stripped, t)
	if err != nil {
		return nil, nil, fmt.Errorf("encode value: %w", err)
	}
	var ps []string
	for _, p := range paths {
		ps = append(ps, pathString(p))
	}
	return b, ps, nil
}

// decodeValue reads a state value back, marking the recorded sensitive
// paths.
func decodeValue(raw json.RawMessage, t cty.Type, sensitive []string) (cty.Value, error) {
	if len(raw) == 0 {
		return cty.NullVal(t), nil
	}
	v, err := ctyjson.Unmarshal(raw, t)
	if err != nil {
		return cty.NilVal, fmt.Errorf("decode value: %w", err)
	}
	if len(sensitive) == 0 || v.IsNull() || !t.IsObjectType() {
		return v, nil
	}
	m := v.AsValueMap()
	for _, s := range sensitive {
		if av, ok := m[s]; ok {
			m[s] = av.Mark(lang.Sensitive)
		}
	}
	return cty.ObjectVal(m), nil
}

func pathString(p cty.Path) string {
	s := ""
	for i, step := range p {
		switch st := step.(type) {
		case cty.GetAttrStep:
			if i > 0 {
				s += "."
			}
			s += st.Name
		case cty.IndexStep:
			s += "[" + st.Key.GoString() + "]"
		}
	}
	return s
}

// fingerprint is the digest of the part of a real state that decides
// whether a saved plan is stale.
func fingerprint(t resource.Type, current cty.Value) string {
	var b []byte
	if fp, ok := t.(resource.Fingerprinter); ok {
		b = fp.Fingerprint(current)
	} else {
		b, _ = ctyjson.Marshal(resource.Unmarked(current), t.Schema().ImpliedType())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func digest(v cty.Value, t cty.Type) string {
	sum := sha256.Sum256(valueJSON(v, t))
	return hex.EncodeToString(sum[:])
}

func valueJSON(v cty.Value, t cty.Type) []byte {
	b, _ := ctyjson.Marshal(resource.Unmarked(v), t)
	return b
}

// outputDigest is what the state keeps of a sensitive output: its keyed
// digest (resource.DigestKey), so that a short secret cannot be guessed
// back from the state.
func outputDigest(ctx context.Context, v cty.Value) string {
	return resource.DigestKeyFrom(ctx).Sum(valueJSON(v, cty.DynamicPseudoType))
}

// outputMatch compares a stored output digest with v. A plain SHA-256 from
// a state written before keyed digests is compared the old way (the next
// apply writes the keyed form); a digest made with another key is unknown,
// which the plan shows as a change.
func outputMatch(ctx context.Context, stored string, v cty.Value) resource.DigestMatch {
	m, _ := resource.DigestKeyFrom(ctx).Match(stored, valueJSON(v, cty.DynamicPseudoType))
	return m
}

// markLike copies the sensitive marks of config onto v, attribute by
// attribute, so that real state read from a host is hidden wherever the
// configuration is.
func markLike(v, config cty.Value, schema *resource.Schema) cty.Value {
	if v == cty.NilVal || v.IsNull() || !v.IsKnown() {
		return v
	}
	v = resource.Unmarked(v)
	var m map[string]cty.Value
	for name := range v.Type().AttributeTypes() {
		sens := false
		if a, ok := schema.Attributes[name]; ok && a.Sensitive {
			sens = true
		}
		if config != cty.NilVal && !config.IsNull() && config.Type().IsObjectType() && config.Type().HasAttribute(name) {
			if lang.IsSensitive(config.GetAttr(name)) {
				sens = true
			}
		}
		if sens {
			if m == nil {
				m = v.AsValueMap()
			}
			m[name] = m[name].Mark(lang.Sensitive)
		}
	}
	if m == nil {
		// Nothing to mark: v as it is, not a copy.
		return v
	}
	return cty.ObjectVal(m)
}

// equalValues compares two values ignoring marks.
func equalValues(a, b cty.Value) bool {
	return resource.Unmarked(a).RawEquals(resource.Unmarked(b))
}

// sameForceNew reports whether a ForceNew attribute still names the same
// thing. A host reference names a machine, by its transport and address;
// a dns_server reference names a server, by its address. How mailplan
// reaches them (port, user, identity_file, known_hosts, sudo, the block's
// name, the TSIG key) may change without replacing what lives there: a
// laptop and a CI runner with other key paths plan the same changes.
func sameForceNew(a *resource.Attribute, old, cur cty.Value) bool {
	switch a.Kind {
	case resource.HostRef:
		return equalValues(hostTarget(old), hostTarget(cur))
	case resource.DNSServerRef:
		return equalValues(attrOf(old, "address"), attrOf(cur, "address"))
	}
	return equalValues(old, cur)
}

// hostTarget is a host value's transport and lower-cased address.
func hostTarget(v cty.Value) cty.Value {
	addr := attrOf(v, "address")
	if addr.IsKnown() && !addr.IsNull() && addr.Type() == cty.String {
		addr = cty.StringVal(strings.ToLower(addr.AsString()))
	}
	return cty.TupleVal([]cty.Value{attrOf(v, "transport"), addr})
}

// attrOf is v's attribute name, null when v is null or unknown.
func attrOf(v cty.Value, name string) cty.Value {
	v = resource.Unmarked(v)
	if v.IsNull() || !v.IsKnown() || !v.Type().IsObjectType() || !v.Type().HasAttribute(name) {
		return cty.NullVal(cty.DynamicPseudoType)
	}
	return v.GetAttr(name)
}

// withLiveConnections takes the live configuration's host and dns_server
// values where they still name the same machine as the recorded ones
// (see sameForceNew): a rollback or the removal of a replaced object then
// connects the way the configuration says now (this runner's key and
// known_hosts), not the way the apply's machine did.
func withLiveConnections(s *resource.Schema, recorded, live cty.Value) cty.Value {
	if recorded == cty.NilVal || live == cty.NilVal || recorded.IsNull() || live.IsNull() || !live.IsKnown() ||
		!recorded.Type().IsObjectType() || !live.Type().IsObjectType() {
		return recorded
	}
	// A new object only when an attribute is to change: in a plan with
	// no change the recorded configuration is the live one, and a copy of
	// each would stay in memory to the end of the plan.
	var m map[string]cty.Value
	for name, a := range s.Attributes {
		if a.Kind != resource.HostRef && a.Kind != resource.DNSServerRef {
			continue
		}
		if !live.Type().HasAttribute(name) || !recorded.Type().HasAttribute(name) {
			continue
		}
		lv, rv := live.GetAttr(name), recorded.GetAttr(name)
		if lv.RawEquals(rv) || !lv.IsWhollyKnown() || lv.IsNull() || !sameForceNew(a, rv, lv) {
			continue
		}
		if m == nil {
			m = recorded.AsValueMap()
		}
		m[name] = lv
	}
	if m == nil {
		return recorded
	}
	return cty.ObjectVal(m)
}
