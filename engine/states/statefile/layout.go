package statefile

import (
	"encoding/json"
	"maps"
	"slices"

	"github.com/mailplan/mailplan/engine/states"
)

// encodeLaidOut is layout(json.Marshal(s)), byte for byte, without ever
// holding the compact encoding of the whole state: the resources and the
// changes of the last apply, nearly all of a state, are marshalled one
// at a time straight into the output, and encoding/json marshals only the
// rest (the skeleton), in which they are left null.
func encodeLaidOut(s *states.State) ([]byte, error) {
	skel := *s
	skel.Resources = nil
	var changes []*states.Change
	if s.LastApply != nil {
		la := *s.LastApply
		changes, la.Changes = la.Changes, nil
		skel.LastApply = &la
	}
	b, err := json.Marshal(&skel)
	if err != nil {
		return nil, err
	}
	var failed error
	splice := func(out []byte, path []string, key string) ([]byte, bool) {
		switch {
		case failed != nil:
			return out, false
		case len(path) == 1 && key == "resources" && s.Resources != nil:
			out, failed = appendResources(out, s.Resources)
			return out, true
		case len(path) == 2 && path[1] == "last_apply" && key == "changes" && changes != nil:
			out, failed = appendChanges(out, changes)
			return out, true
		}
		return out, false
	}
	out := layout(b, splice)
	if failed != nil {
		return nil, failed
	}
	return out, nil
}

// appendResources appends the resources object, laid out at depth 1.
func appendResources(out []byte, rs map[string]*states.Resource) ([]byte, error) {
	if len(rs) == 0 {
		return append(out, "{}"...), nil
	}
	out = append(out, '{')
	for i, addr := range slices.Sorted(maps.Keys(rs)) {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendNewline(out, 2)
		k, err := json.Marshal(addr)
		if err != nil {
			return out, err
		}
		r, err := json.Marshal(rs[addr])
		if err != nil {
			return out, err
		}
		out = append(append(append(out, k...), ": "...), r...)
	}
	return append(appendNewline(out, 1), '}'), nil
}

// appendChanges appends the last apply's changes, laid out at depth 2.
func appendChanges(out []byte, cs []*states.Change) ([]byte, error) {
	if len(cs) == 0 {
		return append(out, "[]"...), nil
	}
	out = append(out, '[')
	for i, c := range cs {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendNewline(out, 3)
		b, err := json.Marshal(c)
		if err != nil {
			return out, err
		}
		out = append(out, b...)
	}
	return append(appendNewline(out, 2), ']'), nil
}

func appendNewline(out []byte, depth int) []byte {
	out = append(out, '\n')
	for range depth {
		out = append(out, ' ', ' ')
	}
	return out
}

// layout lays out the compact JSON of a state for people and line-based
// tools: indented as json.MarshalIndent would, except that each resource
// and each change of the last apply stays compact on a line of its own.
// They are nearly all of a state, and indenting them (as mailplan once
// did) made the file twice the size and its decoding twice the work. It
// ends with a newline.
//
// splice, when not nil, may write the value of a member (of the object at
// path, under key) itself, in place of the null the compact JSON has
// there.
func layout(compact []byte, splice func(out []byte, path []string, key string) ([]byte, bool)) []byte {
	out := make([]byte, 0, len(compact)+len(compact)/32+256)
	// path names the containers the position is in (object keys; "" for
	// an array element); laid says which of them are laid out, a member
	// to a line.
	var path []string
	var laid []bool
	inString, escaped := false, false
	strStart, key := 0, ""
	for i := 0; i < len(compact); i++ {
		c := compact[i]
		if inString {
			out = append(out, c)
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString, strStart = true, i
			out = append(out, c)
		case '{', '[':
			name := key
			key = ""
			path = append(path, name)
			lay := laidOut(path) && i+1 < len(compact) && compact[i+1] != '}' && compact[i+1] != ']'
			laid = append(laid, lay)
			out = append(out, c)
			if lay {
				out = appendNewline(out, len(laid))
			}
		case '}', ']':
			if laid[len(laid)-1] {
				out = appendNewline(out, len(laid)-1)
			}
			path, laid = path[:len(path)-1], laid[:len(laid)-1]
			out = append(out, c)
		case ',':
			key = ""
			out = append(out, c)
			if laid[len(laid)-1] {
				out = appendNewline(out, len(laid))
			}
		case ':':
			// The string before it was a key (without its quotes).
			key = string(compact[strStart+1 : i-1])
			out = append(out, c)
			if laid[len(laid)-1] {
				out = append(out, ' ')
			}
			if splice != nil && string(compact[i+1:min(i+5, len(compact))]) == "null" {
				var done bool
				if out, done = splice(out, path, key); done {
					i += 4
				}
			}
		default:
			out = append(out, c)
		}
	}
	return append(out, '\n')
}

// laidOut says whether the container at path (its first element is ""
// for the state itself) is laid out a member to a line: everything but
// what a resource record or a change holds, and the values of outputs.
func laidOut(path []string) bool {
	switch len(path) {
	case 1, 2: // the state; its resources, outputs, last apply
		return true
	case 3: // a resource; an output; the last apply's changes and others
		return path[1] != "resources"
	case 4: // a change; a prior output
		return path[1] == "last_apply" && path[2] == "prior_outputs"
	}
	return false
}
