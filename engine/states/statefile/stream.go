package statefile

import (
	"encoding/json"
	"io"

	"github.com/mailplan/mailplan/engine/states"
)

// decodeStream decodes a state one resource and one change at a time, so
// that the JSON decoder never buffers more than one of them, and the
// input is read once. It handles the shape Encode writes (and older,
// indented, files of the same version); ok is false for anything else —
// an error, a duplicate or unexpected key, a version it does not read —
// and the careful path (decodeWhole) then decides and says what is wrong.
// What it returns is what decodeWhole would.
func decodeStream(r io.Reader) (s *states.State, ok bool) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if !delim(dec, '{') {
		return nil, false
	}
	s = new(states.State)
	seen := map[string]bool{}
	for dec.More() {
		key, ok := name(dec)
		if !ok || seen[key] {
			return nil, false
		}
		seen[key] = true
		var err error
		switch key {
		case "version":
			err = dec.Decode(&s.Version)
		case "serial":
			err = dec.Decode(&s.Serial)
		case "lineage":
			err = dec.Decode(&s.Lineage)
		case "resources":
			s.Resources, ok = decodeResources(dec)
		case "outputs":
			err = dec.Decode(&s.Outputs)
		case "last_apply":
			s.LastApply, ok = decodeApply(dec)
		default:
			return nil, false
		}
		if err != nil || !ok {
			return nil, false
		}
	}
	if !delim(dec, '}') {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	if !seen["version"] || s.Version < 1 || s.Version > states.FormatVersion {
		return nil, false
	}
	return s, true
}

// decodeResources decodes the resources object, one record at a time.
func decodeResources(dec *json.Decoder) (map[string]*states.Resource, bool) {
	open, null := openOrNull(dec, '{')
	if null {
		return nil, true
	}
	if !open {
		return nil, false
	}
	m := map[string]*states.Resource{}
	for dec.More() {
		key, ok := name(dec)
		if !ok {
			return nil, false
		}
		var r *states.Resource
		if err := dec.Decode(&r); err != nil {
			return nil, false
		}
		// A repeated address: the last one counts, as for any JSON map.
		m[key] = r
	}
	return m, delim(dec, '}')
}

// decodeApply decodes the last apply, its changes one at a time.
func decodeApply(dec *json.Decoder) (*states.Apply, bool) {
	open, null := openOrNull(dec, '{')
	if null {
		return nil, true
	}
	if !open {
		return nil, false
	}
	a := new(states.Apply)
	seen := map[string]bool{}
	for dec.More() {
		key, ok := name(dec)
		if !ok || seen[key] {
			return nil, false
		}
		seen[key] = true
		var err error
		switch key {
		case "id":
			err = dec.Decode(&a.ID)
		case "operation":
			err = dec.Decode(&a.Operation)
		case "started":
			err = dec.Decode(&a.Started)
		case "finished":
			err = dec.Decode(&a.Finished)
		case "status":
			err = dec.Decode(&a.Status)
		case "continued":
			err = dec.Decode(&a.Continued)
		case "changes":
			a.Changes, ok = decodeChanges(dec)
		case "prior_outputs":
			err = dec.Decode(&a.PriorOutputs)
		default:
			return nil, false
		}
		if err != nil || !ok {
			return nil, false
		}
	}
	return a, delim(dec, '}')
}

// decodeChanges decodes the list of changes, one at a time.
func decodeChanges(dec *json.Decoder) ([]*states.Change, bool) {
	open, null := openOrNull(dec, '[')
	if null {
		return nil, true
	}
	if !open {
		return nil, false
	}
	out := []*states.Change{}
	for dec.More() {
		var c *states.Change
		if err := dec.Decode(&c); err != nil {
			return nil, false
		}
		out = append(out, c)
	}
	return out, delim(dec, ']')
}

// delim reads the next token and reports whether it is d.
func delim(dec *json.Decoder, d json.Delim) bool {
	tok, err := dec.Token()
	return err == nil && tok == d
}

// openOrNull reads the next token: the opening d, or null.
func openOrNull(dec *json.Decoder, d json.Delim) (open, null bool) {
	tok, err := dec.Token()
	if err != nil {
		return false, false
	}
	return tok == d, tok == nil
}

// name reads an object key.
func name(dec *json.Decoder) (string, bool) {
	tok, err := dec.Token()
	if err != nil {
		return "", false
	}
	s, ok := tok.(string)
	return s, ok
}
