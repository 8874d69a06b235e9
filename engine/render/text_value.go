package render

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// diffContext is how many unchanged lines or list elements are shown around
// a change; the rest are counted in a "# (N unchanged ... hidden)" line.
const diffContext = 2

// unmark removes v's own marks and reports whether they hid it.
func unmark(v cty.Value) (cty.Value, bool) {
	u, m := v.Unmark()
	_, s := m[sensitive]
	return u, s
}

// equal compares values ignoring marks; two nulls are equal whatever their
// types.
func equal(a, b cty.Value) bool {
	an, bn := isNull(a), isNull(b)
	if an || bn {
		return an && bn
	}
	au, _ := a.UnmarkDeep()
	bu, _ := b.UnmarkDeep()
	return au.RawEquals(bu)
}

// isHost reports whether v (unmarked) is a host reference: an object with
// "name" and "transport" attributes, rendered as host.NAME.
func isHost(v cty.Value) bool {
	ty := v.Type()
	if !ty.IsObjectType() || !ty.HasAttribute("name") || !ty.HasAttribute("transport") || !v.IsKnown() || v.IsNull() {
		return false
	}
	n, _ := v.GetAttr("name").UnmarkDeep()
	return n.Type() == cty.String && n.IsKnown() && !n.IsNull()
}

func hostRef(v cty.Value) string {
	n, _ := v.GetAttr("name").UnmarkDeep()
	return "host." + n.AsString()
}

func isMultiline(v cty.Value) bool {
	return v.Type() == cty.String && v.IsKnown() && !v.IsNull() && strings.Contains(v.AsString(), "\n")
}

func heredocLines(s string) []string {
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// literal renders a known, non-null, unmarked primitive.
func literal(v cty.Value) string {
	switch v.Type() {
	case cty.String:
		return quote(v.AsString())
	case cty.Number:
		return v.AsBigFloat().Text('f', -1)
	case cty.Bool:
		if v.True() {
			return "true"
		}
		return "false"
	}
	return fmt.Sprintf("(%s)", v.Type().FriendlyName())
}

// quote renders s as an HCL quoted string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '"':
			b.WriteString(`\"`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case (r == '$' || r == '%') && i+1 < len(s) && s[i+1] == '{':
			b.WriteRune(r)
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// scalar renders v on one line when it can be: sensitive, unknown, null,
// a host reference or a single-line primitive.
func scalar(v cty.Value) (string, bool) {
	u, s := unmark(v)
	switch {
	case s:
		return "(sensitive value)", true
	case !u.IsKnown():
		return "(known after apply)", true
	case isNull(u):
		return "null", true
	case isHost(u):
		return hostRef(u), true
	case u.Type().IsPrimitiveType() && !isMultiline(u):
		return literal(u), true
	}
	return "", false
}

// compact renders an object of scalars on one line, { a = 1, b = "x" },
// for list elements such as map entries.
func compact(v cty.Value) (string, bool) {
	u, s := unmark(v)
	if s || !u.IsKnown() || u.IsNull() || !u.Type().IsObjectType() || isHost(u) {
		return "", false
	}
	var parts []string
	for _, name := range attrNames(u.Type()) {
		av := u.GetAttr(name)
		if isNull(av) {
			continue
		}
		text, ok := scalar(av)
		if !ok {
			return "", false
		}
		parts = append(parts, name+" = "+text)
	}
	if len(parts) == 0 {
		return "{}", true
	}
	return "{ " + strings.Join(parts, ", ") + " }", true
}

func attrNames(ty cty.Type) []string {
	var names []string
	for name := range ty.AttributeTypes() {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func attr(v cty.Value, name string) cty.Value {
	if isNull(v) || !v.Type().IsObjectType() || !v.Type().HasAttribute(name) {
		return cty.NullVal(cty.DynamicPseudoType)
	}
	return v.GetAttr(name)
}

// full renders v with symbol s on every line (a created, destroyed or
// unchanged value). key precedes the value on its first line, note ends the
// first line and tail the last.
func (p *printer) full(d int, s byte, key string, v cty.Value, tail, note string) {
	if text, ok := scalar(v); ok {
		p.line(d, s, key+text+tail+note)
		return
	}
	u, _ := unmark(v)
	ty := u.Type()
	switch {
	case isMultiline(u):
		p.line(d, s, key+"<<-EOT"+note)
		for _, l := range heredocLines(u.AsString()) {
			p.line(d+1, ' ', l)
		}
		p.line(d, ' ', "EOT"+tail)
	case ty.IsObjectType():
		if key == "" {
			if text, ok := compact(u); ok {
				p.line(d, s, text+tail+note)
				return
			}
		}
		if len(ty.AttributeTypes()) == 0 {
			p.line(d, s, key+"{}"+tail+note)
			return
		}
		p.line(d, s, key+"{"+note)
		p.objectFull(d+1, s, u, "")
		p.line(d, ' ', "}"+tail)
	case ty.IsMapType():
		if u.LengthInt() == 0 {
			p.line(d, s, key+"{}"+tail+note)
			return
		}
		p.line(d, s, key+"{"+note)
		var keys []string
		width := 0
		for it := u.ElementIterator(); it.Next(); {
			k, _ := it.Element()
			keys = append(keys, k.AsString())
			width = max(width, len(quote(k.AsString())))
		}
		for _, k := range keys {
			p.full(d+1, s, pad(quote(k), width)+" = ", u.Index(cty.StringVal(k)), "", "")
		}
		p.line(d, ' ', "}"+tail)
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType():
		if u.LengthInt() == 0 {
			p.line(d, s, key+"[]"+tail+note)
			return
		}
		p.line(d, s, key+"["+note)
		for it := u.ElementIterator(); it.Next(); {
			_, e := it.Element()
			p.full(d+1, s, "", e, ",", "")
		}
		p.line(d, ' ', "]"+tail)
	default:
		p.line(d, s, key+"("+ty.FriendlyName()+")"+tail+note)
	}
}

// objectFull renders the non-null attributes of object v at depth d with
// symbol s, names aligned; tail ends each attribute (" -> null" for a
// destroyed resource).
func (p *printer) objectFull(d int, s byte, v cty.Value, tail string) {
	u, sens := unmark(v)
	if sens {
		p.line(d, s, "(sensitive value)")
		return
	}
	if isNull(u) || !u.IsKnown() || !u.Type().IsObjectType() {
		return
	}
	var names []string
	width := 0
	for _, name := range attrNames(u.Type()) {
		if !isNull(u.GetAttr(name)) {
			names = append(names, name)
			width = max(width, len(name))
		}
	}
	for _, name := range names {
		p.full(d, s, pad(name, width)+" = ", u.GetAttr(name), tail, "")
	}
}

// objectDiff renders the attributes of an updated object at depth d:
// changed and identifying ones, then a count of the unchanged rest. Names
// in replace get "# forces replacement".
func (p *printer) objectDiff(d int, b, a cty.Value, replace map[string]bool) {
	bu, bs := unmark(b)
	au, as := unmark(a)
	if bs || as {
		if !equal(b, a) {
			p.line(d, '~', "(sensitive value)")
		}
		return
	}
	names := map[string]bool{}
	for _, v := range []cty.Value{bu, au} {
		if !isNull(v) && v.Type().IsObjectType() {
			for name := range v.Type().AttributeTypes() {
				names[name] = true
			}
		}
	}
	var shown []string
	hidden, width := 0, 0
	for _, name := range slices.Sorted(maps.Keys(names)) {
		bv, av := attr(bu, name), attr(au, name)
		if isNull(bv) && isNull(av) {
			continue
		}
		if equal(bv, av) && !p.showUnchanged[name] {
			hidden++
			continue
		}
		shown = append(shown, name)
		width = max(width, len(name))
	}
	for _, name := range shown {
		note := ""
		if replace[name] && !equal(attr(bu, name), attr(au, name)) {
			note = " # forces replacement"
		}
		p.entry(d, pad(name, width)+" = ", attr(bu, name), attr(au, name), note)
	}
	if hidden > 0 {
		p.line(d, ' ', fmt.Sprintf("# (%d unchanged %s hidden)", hidden, plural(hidden, "attribute")))
	}
}

// entry renders one attribute or map element whose value goes from b to a.
func (p *printer) entry(d int, key string, b, a cty.Value, note string) {
	switch {
	case isNull(b) && isNull(a):
	case isNull(b):
		p.full(d, '+', key, a, "", note)
	case isNull(a):
		p.full(d, '-', key, b, " -> null", note)
	case equal(b, a):
		p.full(d, ' ', key, a, "", note)
	default:
		p.update(d, key, b, a, "", note)
	}
}

// update renders a value that exists on both sides and changed.
func (p *printer) update(d int, key string, b, a cty.Value, tail, note string) {
	bu, bs := unmark(b)
	au, as := unmark(a)
	bt, at := bu.Type(), au.Type()
	switch {
	case bs || as:
		p.line(d, '~', key+"(sensitive value)"+tail+note)
	case !au.IsKnown():
		if text, ok := scalar(b); ok {
			p.line(d, '~', key+text+" -> (known after apply)"+tail+note)
			return
		}
		p.full(d, '-', key, b, "", note)
		p.line(d, '+', key+"(known after apply)"+tail)
	case isHost(bu) && isHost(au):
		if hostRef(bu) != hostRef(au) {
			p.line(d, '~', key+hostRef(bu)+" -> "+hostRef(au)+tail+note)
			return
		}
		var changed []string
		for _, name := range attrNames(at) {
			if !equal(attr(bu, name), attr(au, name)) {
				changed = append(changed, name)
			}
		}
		hostNote := " # " + strings.Join(changed, ", ") + " changed"
		if note != "" {
			hostNote += ", " + strings.TrimPrefix(note, " # ")
		}
		p.line(d, '~', key+hostRef(au)+tail+hostNote)
	case bt == cty.String && at == cty.String && (isMultiline(bu) || isMultiline(au)):
		p.heredocDiff(d, key, bu.AsString(), au.AsString(), tail, note)
	case (bt.IsPrimitiveType() || isHost(bu)) && (at.IsPrimitiveType() || isHost(au)):
		bText, _ := scalar(bu)
		aText, _ := scalar(au)
		p.line(d, '~', key+bText+" -> "+aText+tail+note)
	case bt.IsObjectType() && at.IsObjectType():
		p.line(d, '~', key+"{"+note)
		p.objectDiff(d+1, bu, au, nil)
		p.line(d, ' ', "}"+tail)
	case bt.IsMapType() && at.IsMapType():
		p.line(d, '~', key+"{"+note)
		p.mapDiff(d+1, bu, au)
		p.line(d, ' ', "}"+tail)
	case isSequence(bt) && isSequence(at):
		p.line(d, '~', key+"["+note)
		p.listDiff(d+1, bu, au)
		p.line(d, ' ', "]"+tail)
	default:
		p.full(d, '-', key, b, "", note)
		p.full(d, '+', key, a, tail, "")
	}
}

func isSequence(ty cty.Type) bool {
	return ty.IsListType() || ty.IsSetType() || ty.IsTupleType()
}

func (p *printer) mapDiff(d int, b, a cty.Value) {
	keys := map[string]bool{}
	for _, v := range []cty.Value{b, a} {
		for it := v.ElementIterator(); it.Next(); {
			k, _ := it.Element()
			keys[k.AsString()] = true
		}
	}
	elem := func(v cty.Value, k string) cty.Value {
		kv := cty.StringVal(k)
		if v.HasIndex(kv).True() {
			return v.Index(kv)
		}
		return cty.NullVal(cty.DynamicPseudoType)
	}
	var shown []string
	hidden, width := 0, 0
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if equal(elem(b, k), elem(a, k)) {
			hidden++
			continue
		}
		shown = append(shown, k)
		width = max(width, len(quote(k)))
	}
	for _, k := range shown {
		p.entry(d, pad(quote(k), width)+" = ", elem(b, k), elem(a, k), "")
	}
	if hidden > 0 {
		p.line(d, ' ', fmt.Sprintf("# (%d unchanged %s hidden)", hidden, plural(hidden, "element")))
	}
}

func elements(v cty.Value) []cty.Value {
	var out []cty.Value
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		out = append(out, e)
	}
	return out
}

func (p *printer) listDiff(d int, b, a cty.Value) {
	be, ae := elements(b), elements(a)
	ops := diff(len(be), len(ae), func(i, j int) bool { return equal(be[i], ae[j]) })
	for _, o := range withContext(ops, diffContext) {
		switch o.kind {
		case opHidden:
			p.line(d, ' ', fmt.Sprintf("# (%d unchanged %s hidden)", o.n, plural(o.n, "element")))
		case opKeep:
			p.full(d, ' ', "", ae[o.a], ",", "")
		case opDelete:
			p.full(d, '-', "", be[o.b], ",", "")
		case opInsert:
			p.full(d, '+', "", ae[o.a], ",", "")
		}
	}
}

// heredocDiff shows a changed multi-line string as a heredoc with a line
// diff, as Terraform does.
func (p *printer) heredocDiff(d int, key, b, a, tail, note string) {
	bl, al := heredocLines(b), heredocLines(a)
	if slices.Equal(bl, al) {
		// Only the final newline differs, which a heredoc cannot show.
		p.line(d, '~', key+quote(b)+" -> "+quote(a)+tail+note)
		return
	}
	p.line(d, '~', key+"<<-EOT"+note)
	ops := diff(len(bl), len(al), func(i, j int) bool { return bl[i] == al[j] })
	for _, o := range withContext(ops, diffContext) {
		switch o.kind {
		case opHidden:
			p.line(d+1, ' ', fmt.Sprintf("# (%d unchanged %s hidden)", o.n, plural(o.n, "line")))
		case opKeep:
			p.line(d+1, ' ', al[o.a])
		case opDelete:
			p.line(d+1, '-', bl[o.b])
		case opInsert:
			p.line(d+1, '+', al[o.a])
		}
	}
	p.line(d, ' ', "EOT"+tail)
}
