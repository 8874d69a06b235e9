package mailbox

import (
	"bytes"
	"regexp"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
)

// Shadow cleanup. A shadow copy (the old server's Postfix sending each
// message to the new one too) leaves the new server with messages that
// the old server has as well, with the old server's flags and UIDs. With
// shadow_header and shadow_match, a destination message whose header
// marks it as delivered by the shadow copy, and which dedupe finds at the
// source (identity.go), is replaced: moved into the store (as mirror
// removes, journalled, so that a rollback moves it back) and the source's
// message copied in its stead, so that users see it once, with their
// flags and the UID their clients know. A shadow copy the source does not
// have is kept: it may be all there is of that message.

// headerValues returns the values of every field name in the header block,
// unfolded and trimmed.
func headerValues(header []byte, name string) []string {
	var out []string
	lines := bytes.Split(header, []byte("\n"))
	for i := 0; i < len(lines); i++ {
		n, value, ok := bytes.Cut(lines[i], []byte(":"))
		if !ok || !strings.EqualFold(string(bytes.TrimRight(n, " \t")), name) {
			continue
		}
		v := append([]byte(nil), bytes.TrimRight(value, "\r")...)
		for i+1 < len(lines) && len(lines[i+1]) > 0 && (lines[i+1][0] == ' ' || lines[i+1][0] == '\t') {
			i++
			v = append(v, bytes.TrimRight(lines[i], "\r")...)
		}
		out = append(out, string(bytes.TrimSpace(v)))
	}
	return out
}

// shadowMatcher tells a header block with a field name whose value re
// matches.
func shadowMatcher(name string, re *regexp.Regexp) func([]byte) bool {
	return func(header []byte) bool {
		for _, v := range headerValues(header, name) {
			if re.MatchString(v) {
				return true
			}
		}
		return false
	}
}

func validateShadow(cfg cty.Value) resource.AttrErrors {
	var errs resource.AttrErrors
	h, hOK := resource.Known(cfg, "shadow_header")
	m, mOK := resource.Known(cfg, "shadow_match")
	switch {
	case hOK && !mOK && cfg.GetAttr("shadow_match").IsKnown():
		errs = append(errs, resource.Errorf("shadow_header", "Incomplete shadow cleanup",
			"shadow_header is set without shadow_match; set both (e.g. shadow_header = \"Delivered-To\", shadow_match = \"@example\\\\.com\\\\.migration$\") or neither."))
	case mOK && !hOK && cfg.GetAttr("shadow_header").IsKnown():
		errs = append(errs, resource.Errorf("shadow_match", "Incomplete shadow cleanup",
			"shadow_match is set without shadow_header; set both (e.g. shadow_header = \"Delivered-To\") or neither."))
	}
	if hOK {
		name := h.AsString()
		if name == "" || strings.ContainsAny(name, ": \t\r\n") {
			errs = append(errs, resource.Errorf("shadow_header", "Invalid header name",
				"The header name %q is not a header field name; give one such as \"Delivered-To\" or \"X-Original-To\", without the colon.", name))
		}
	}
	if mOK {
		if _, err := regexp.Compile(m.AsString()); err != nil {
			errs = append(errs, resource.Errorf("shadow_match", "Invalid shadow pattern",
				"shadow_match is not a regular expression (RE2 syntax): %s.", err))
		} else if m.AsString() == "" {
			errs = append(errs, resource.Errorf("shadow_match", "Invalid shadow pattern",
				"shadow_match is empty, which every message matches; give the pattern of the shadow copy's address, e.g. \"@example\\\\.com\\\\.migration$\"."))
		}
	}
	return errs
}

// matching reports whether a copy compares messages by identity: for
// dedupe, or to find the shadow copies to replace.
func (c config) matching() bool { return c.Dedupe || c.shadow != nil }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
