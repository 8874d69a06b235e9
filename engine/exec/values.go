package exec

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"
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
	if fp, ok := t.(resource.Fingerprinter); ok {
		sum := sha256.Sum256(fp.Fingerprint(current))
		return hex.EncodeToString(sum[:])
	}
	return digest(current, t.Schema().ImpliedType())
}

// digest is the SHA-256 of v's JSON (valueJSON), in hex.
func digest(v cty.Value, t cty.Type) string {
	buf := jsonBufs.Get().(*[]byte)
	b, ok := appendJSON((*buf)[:0], v, t, true)
	if !ok {
		b = valueJSON(v, t)
	}
	sum := sha256.Sum256(b)
	if ok {
		putJSONBuf(buf, b)
	} else {
		jsonBufs.Put(buf)
	}
	return hex.EncodeToString(sum[:])
}

// valueJSON is v's JSON, marks ignored.
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

// equalValues compares two values ignoring marks. Two values equal with
// their marks (what a plan with no change compares) are so without
// unmarking copies of them.
func equalValues(a, b cty.Value) bool {
	return a.RawEquals(b) || resource.Unmarked(a).RawEquals(resource.Unmarked(b))
}

// sameForceNew reports whether a ForceNew attribute still names the same
// thing. A host reference names a machine, by its transport and address;
// a dns_server reference names a server, by its address. How mailplan
// reaches them (port, user, identity_file, known_hosts, sudo, the block's
// name, the TSIG key) may change without replacing what lives there: a
// laptop and a CI runner with other key paths plan the same changes.
func sameForceNew(a *resource.Attribute, old, cur cty.Value) bool {
	if old.RawEquals(cur) {
		return true
	}
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
	// Unmarked one level at a time: the attribute, not all of v.
	v, _ = v.Unmark()
	if v.IsNull() || !v.IsKnown() || !v.Type().IsObjectType() || !v.Type().HasAttribute(name) {
		return cty.NullVal(cty.DynamicPseudoType)
	}
	return resource.Unmarked(v.GetAttr(name))
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

// appendJSON appends v's JSON as ctyjson.Marshal(v, t) writes it, byte for
// byte, without its allocations: it is on the path of every instance of a
// plan (sameAsRecorded, fingerprint). ok is false when it cannot say: v is
// unknown, or marked and !unmark, or t holds a type it leaves to ctyjson
// (cty.DynamicPseudoType, a capsule), or a number that is not a whole one
// (then the caller asks ctyjson). With unmark, v's marks are ignored, as if
// v were resource.Unmarked(v).
func appendJSON(dst []byte, v cty.Value, t cty.Type, unmark bool) ([]byte, bool) {
	if v.IsMarked() {
		if !unmark {
			return dst, false
		}
		v, _ = v.Unmark()
	}
	if !v.IsKnown() || t == cty.DynamicPseudoType {
		return dst, false
	}
	if v.IsNull() {
		return append(dst, "null"...), true
	}
	switch {
	case t == cty.String:
		return appendJSONString(dst, v.AsString()), true
	case t == cty.Bool:
		if v.True() {
			return append(dst, "true"...), true
		}
		return append(dst, "false"...), true
	case t == cty.Number:
		f := v.AsBigFloat()
		i, acc := f.Int64()
		if !f.IsInt() || acc != big.Exact || i == 0 && f.Signbit() {
			return dst, false
		}
		return strconv.AppendInt(dst, i, 10), true
	case t.IsObjectType():
		atys := t.AttributeTypes()
		var buf [16]string
		names := buf[:0]
		for k := range atys {
			names = append(names, k)
		}
		slices.Sort(names)
		dst = append(dst, '{')
		for i, k := range names {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			var ok bool
			if dst, ok = appendJSON(dst, v.GetAttr(k), atys[k], unmark); !ok {
				return dst, false
			}
		}
		return append(dst, '}'), true
	case t.IsListType(), t.IsSetType(), t.IsMapType(), t.IsTupleType():
		isMap := t.IsMapType()
		open, end := byte('['), byte(']')
		if isMap {
			open, end = '{', '}'
		}
		dst = append(dst, open)
		i := 0
		for it := v.ElementIterator(); it.Next(); i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			k, ev := it.Element()
			var ety cty.Type
			switch {
			case t.IsTupleType():
				ety = t.TupleElementTypes()[i]
			default:
				ety = t.ElementType()
			}
			if isMap {
				dst = appendJSONString(dst, k.AsString())
				dst = append(dst, ':')
			}
			var ok bool
			if dst, ok = appendJSON(dst, ev, ety, unmark); !ok {
				return dst, false
			}
		}
		return append(dst, end), true
	}
	return dst, false
}

// appendJSONString appends s as encoding/json writes it (which is how
// ctyjson writes strings): the common characters here, anything else
// (other control characters, <, > and &, which it escapes, and non-ASCII)
// by encoding/json itself.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\n' && c != '\r' && c != '\t' || c >= 0x80 || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
