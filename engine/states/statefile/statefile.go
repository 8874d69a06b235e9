package statefile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/mailplan/mailplan/engine/states"
)

// ErrUnsupportedVersion is wrapped by Decode's error when the state was
// written in a format version this mailplan does not know.
var ErrUnsupportedVersion = errors.New("unsupported state format version")

// Encode returns the JSON encoding of s in the current format version.
// s.Version is ignored: the version written is always
// states.FormatVersion. s itself is not modified.
func Encode(s *states.State) ([]byte, error) {
	if s == nil {
		return nil, errors.New("encode state: no state")
	}
	if err := check(s); err != nil {
		return nil, fmt.Errorf("encode state: %w", err)
	}
	out := *s
	out.Version = states.FormatVersion
	if out.Resources == nil {
		out.Resources = map[string]*states.Resource{}
	}
	// encoding/json sorts map keys and keeps struct fields in declaration
	// order, which is all the stability the format needs.
	b, err := encodeLaidOut(&out)
	if err != nil {
		return nil, fmt.Errorf("encode state: %w", err)
	}
	return b, nil
}

// Decode parses a state file. The error says what is wrong: empty input,
// invalid JSON (with the line and column), a missing or unknown version, an
// unknown field, or a state that is inconsistent. Files written compact
// and files written indented (before mailplan wrote them compact) read
// the same.
func Decode(b []byte) (*states.State, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("decode state: input is empty")
	}
	s, ok := decodeStream(bytes.NewReader(b))
	if !ok {
		return decodeWhole(b)
	}
	return finish(s)
}

// DecodeFrom is Decode of what r holds, read as it is decoded: the whole
// file is never in memory at once. Only when it does not decode is it
// read again from the start, for the error.
func DecodeFrom(r io.ReadSeeker) (*states.State, error) {
	if s, ok := decodeStream(bufio.NewReaderSize(r, 64<<10)); ok {
		return finish(s)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("decode state: %w", err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("decode state: %w", err)
	}
	return Decode(b)
}

// decodeWhole is the careful path: it looks at the version first, then
// decodes the whole document strictly, and says what is wrong.
func decodeWhole(b []byte) (*states.State, error) {
	// Look at the version before anything else, so that a newer format is
	// reported as such rather than as whatever it changed.
	var head struct {
		Version *json.RawMessage `json:"version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field == "" {
			return nil, fmt.Errorf("decode state: the document is a JSON %s, not an object", te.Value)
		}
		return nil, fmt.Errorf("decode state: %w", syntaxError(b, err))
	}
	if head.Version == nil {
		return nil, errors.New("decode state: no \"version\" field; this is not a mailplan state file")
	}
	var version int
	if err := json.Unmarshal(*head.Version, &version); err != nil {
		return nil, fmt.Errorf("decode state: \"version\" is %s, not a whole number", *head.Version)
	}
	switch {
	case version > states.FormatVersion:
		return nil, fmt.Errorf("decode state: format version %d is newer than the newest this mailplan reads (%d); upgrade mailplan: %w",
			version, states.FormatVersion, ErrUnsupportedVersion)
	case version < 1:
		return nil, fmt.Errorf("decode state: format version %d: %w", version, ErrUnsupportedVersion)
	}
	// version == states.FormatVersion: the only one so far. Upgrades of
	// older versions go here when there are any (and decodeStream hands
	// such files to this path).

	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	s := new(states.State)
	if err := dec.Decode(s); err != nil {
		return nil, fmt.Errorf("decode state: %w", syntaxError(b, err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("decode state: data after the end of the state at offset %d", dec.InputOffset())
	}
	return finish(s)
}

// finish checks a decoded state and normalizes it.
func finish(s *states.State) (*states.State, error) {
	if s.Resources == nil {
		s.Resources = map[string]*states.Resource{}
	}
	if err := check(s); err != nil {
		return nil, fmt.Errorf("decode state: %w", err)
	}
	normalize(s)
	share(s)
	return s, nil
}

// check reports inconsistencies that JSON itself cannot rule out.
func check(s *states.State) error {
	if s.Lineage == "" {
		return errors.New("state has no lineage")
	}
	for key, r := range s.Resources {
		if r == nil {
			return fmt.Errorf("resource %q is null", key)
		}
		if r.Addr != key {
			return fmt.Errorf("resource %q has address %q", key, r.Addr)
		}
	}
	for name, o := range s.Outputs {
		if o == nil {
			return fmt.Errorf("output %q is null", name)
		}
	}
	if s.LastApply != nil {
		for i, c := range s.LastApply.Changes {
			if c == nil {
				return fmt.Errorf("last apply: change %d is null", i)
			}
		}
	}
	return nil
}

// syntaxError adds the line and column to JSON errors that carry an offset.
func syntaxError(b []byte, err error) error {
	var offset int64
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se) && se.Offset >= int64(len(bytes.TrimRight(b, " \t\r\n"))):
		return fmt.Errorf("input ends in the middle of the JSON document (truncated?): %w", err)
	case errors.As(err, &se):
		offset = se.Offset
	case errors.As(err, &te):
		offset = te.Offset
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("input ends in the middle of the JSON document (truncated?): %w", err)
	default:
		return err
	}
	// Offset counts the bytes read, the last of which is the one in error.
	line, col := 1, 1
	for _, c := range b[:max(0, min(int(offset)-1, len(b)))] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Errorf("line %d, column %d: %w", line, col, err)
}

// normalize makes a decoded state equal to the one that was encoded:
// embedded values of an indented file (mailplan wrote them so before it
// wrote the state compact) are compacted again, and null becomes nil.
func normalize(s *states.State) {
	for _, r := range s.Resources {
		normalizeResource(r)
	}
	for _, o := range s.Outputs {
		o.Value = compact(o.Value)
		o.Type = compact(o.Type)
	}
	if s.LastApply != nil {
		for _, c := range s.LastApply.Changes {
			c.Config = compact(c.Config)
			c.After = compact(c.After)
			if c.Prior != nil {
				normalizeResource(c.Prior)
			}
		}
	}
}

func normalizeResource(r *states.Resource) {
	r.Config = compact(r.Config)
	r.Result = compact(r.Result)
}

// compact is m without insignificant white space: m itself when it has
// none, as in every file written compact.
func compact(m json.RawMessage) json.RawMessage {
	if m == nil || string(m) == "null" {
		return nil
	}
	if isCompact(m) {
		return m
	}
	var b bytes.Buffer
	if err := json.Compact(&b, m); err != nil {
		// Cannot happen: the decoder has just validated it.
		return m
	}
	return b.Bytes()
}

// isCompact reports whether the valid JSON m has no white space outside
// its strings.
func isCompact(m []byte) bool {
	if !bytes.ContainsAny(m, " \t\r\n") {
		return true
	}
	inString, escaped := false, false
	for _, c := range m {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\t' || c == '\r' || c == '\n'):
			return false
		}
	}
	return true
}

// share makes a change of the last apply hold the same bytes as the
// state's record of its instance where they are equal (its configuration,
// the value it reached, the snapshot before a create), instead of a
// second copy: after an apply most of them are. Both are clipped, so that
// an append to one can never write into the other.
func share(s *states.State) {
	if s.LastApply == nil {
		return
	}
	for _, c := range s.LastApply.Changes {
		r := s.Resources[c.Addr]
		if r == nil {
			continue
		}
		if c.Config != nil && bytes.Equal(c.Config, r.Config) {
			r.Config = slices.Clip(r.Config)
			c.Config = r.Config
		}
		if c.After != nil && bytes.Equal(c.After, r.Result) {
			r.Result = slices.Clip(r.Result)
			c.After = r.Result
		}
		if len(c.Before) > 0 && bytes.Equal(c.Before, r.Original) {
			r.Original = slices.Clip(r.Original)
			c.Before = r.Original
		}
	}
}

// Same reports whether two states encode the same apart from their
// format version.
func Same(a, b *states.State) (bool, error) {
	ea, err := Encode(a)
	if err != nil {
		return false, err
	}
	eb, err := Encode(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(ea, eb), nil
}
