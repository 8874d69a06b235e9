package postfix

import (
	"fmt"
	"strings"
	"unicode"
)

// Header is the first line of a table rendered from entries.
const Header = "# managed by mailplan — edits are overwritten\n"

// compiledSuffix is the file postmap(1) writes beside the source of a
// hashed table (DATABASE_README), or "" for the types Postfix reads as
// text.
var compiledSuffix = map[string]string{
	"hash":     ".db",
	"btree":    ".db",
	"lmdb":     ".lmdb",
	"cdb":      ".cdb",
	"texthash": "",
	"regexp":   "",
	"pcre":     "",
}

// TableTypes lists the table types postfix_map manages.
var TableTypes = []string{"hash", "lmdb", "btree", "cdb", "texthash", "regexp", "pcre"}

// optionalTypes come from separate packages (postfix-pcre, postfix-lmdb,
// postfix-cdb on Debian) and are checked with postconf -m at plan time.
var optionalTypes = map[string]bool{"pcre": true, "lmdb": true, "cdb": true}

func hashed(typ string) bool { return compiledSuffix[typ] != "" }

func patterned(typ string) bool { return typ == "regexp" || typ == "pcre" }

// entry is one line of a table.
type entry struct {
	Key   string `cty:"key"`
	Value string `cty:"value"`
}

// render writes entries as a table: the header comment, then "key value"
// per entry in order (postmap(1): "key whitespace value").
func render(entries []entry) string {
	var b strings.Builder
	b.WriteString(Header)
	for _, e := range entries {
		b.WriteString(e.Key)
		if e.Value != "" {
			b.WriteString(" ")
			b.WriteString(e.Value)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// parseEntries reads a table back into entries: blank lines and "#"
// comment lines are skipped; the key is the first field (for regexp and
// pcre tables the whole /pattern/flags, which may hold whitespace), the
// value the rest, trimmed. It is the inverse of render for every valid
// list of entries; other files give entries that differ from any
// configuration, so the plan shows a change.
func parseEntries(typ, text string) []entry {
	out := []entry{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		var key, rest string
		if patterned(typ) {
			key, rest = splitPattern(trimmed)
		} else {
			i := strings.IndexFunc(trimmed, unicode.IsSpace)
			if i < 0 {
				key = trimmed
			} else {
				key, rest = trimmed[:i], trimmed[i:]
			}
		}
		out = append(out, entry{Key: key, Value: strings.TrimSpace(rest)})
	}
	return out
}

// splitPattern splits a regexp or pcre table line into its pattern with
// flags and the rest: the pattern runs from the opening "/" (after an
// optional "!") to the next unescaped "/", then the flags up to
// whitespace (regexp_table(5), pcre_table(5)). A line that does not start
// that way splits at the first whitespace ("if /x/", "endif").
func splitPattern(line string) (string, string) {
	i := 0
	if strings.HasPrefix(line, "!") {
		i = 1
	}
	if i < len(line) && line[i] == '/' {
		for j := i + 1; j < len(line); j++ {
			switch line[j] {
			case '\\':
				j++
			case '/':
				k := j + 1
				for k < len(line) && !unicode.IsSpace(rune(line[k])) {
					k++
				}
				return line[:k], line[k:]
			}
		}
	}
	k := strings.IndexFunc(line, unicode.IsSpace)
	if k < 0 {
		return line, ""
	}
	return line[:k], line[k:]
}

// checkKey says what is wrong with a key of a table of type typ, or "".
func checkKey(typ, key string) string {
	switch {
	case key == "":
		return "The key is empty."
	case strings.ContainsAny(key, "\n\r"):
		return "The key holds a line break; a table entry is one line."
	case strings.HasPrefix(key, "#"):
		return "The key starts with #, which makes the line a comment."
	}
	if !patterned(typ) {
		if strings.IndexFunc(key, unicode.IsSpace) >= 0 {
			return fmt.Sprintf("The key %q holds whitespace; in a %s table the key ends at the first space (postmap(1)), so the rest would become part of the value.", key, typ)
		}
		return ""
	}
	if key == "if" || key == "endif" {
		return ""
	}
	p, rest := splitPattern(key)
	if p != key || rest != "" || !(strings.HasPrefix(key, "/") || strings.HasPrefix(key, "!/")) || !closed(key) {
		return fmt.Sprintf("The key %q is not a pattern: in a %s table each key is /pattern/flags or !/pattern/ (%s_table(5)); write e.g. \"/^user@example\\.com$/\".", key, typ, typ)
	}
	flags := key[strings.LastIndex(key, "/")+1:]
	valid := "imx"
	if typ == "pcre" {
		valid = "imxsAEUX"
	}
	for _, f := range flags {
		if !strings.ContainsRune(valid, f) {
			return fmt.Sprintf("The key %q has the flag %q, which %s tables do not know (flags: %s).", key, f, typ, valid)
		}
	}
	return ""
}

// closed reports whether a pattern key has its closing delimiter.
func closed(key string) bool {
	key = strings.TrimPrefix(key, "!")
	for j := 1; j < len(key); j++ {
		switch key[j] {
		case '\\':
			j++
		case '/':
			return true
		}
	}
	return false
}

// checkValue says what is wrong with a value, or "".
func checkValue(key, value string) string {
	switch {
	case strings.ContainsAny(value, "\n\r"):
		return "The value holds a line break; a table entry is one line."
	case strings.TrimSpace(value) != value:
		return "The value starts or ends with whitespace, which Postfix drops; remove it."
	case value == "" && key != "endif":
		return "The value is empty; postmap(1) needs \"key whitespace value\" on each line."
	}
	return ""
}

// mapValued lists main.cf parameters that take lookup tables without a
// name ending in _maps or _checks (postconf(5)).
var mapValued = map[string]bool{
	"alias_database":                          true,
	"relay_domains":                           true,
	"mydestination":                           true,
	"virtual_alias_domains":                   true,
	"virtual_mailbox_domains":                 true,
	"mynetworks":                              true,
	"permit_mx_backup_networks":               true,
	"fast_flush_domains":                      true,
	"debug_peer_list":                         true,
	"qmqpd_authorized_clients":                true,
	"smtpd_client_event_limit_exceptions":     true,
	"authorized_flush_users":                  true,
	"authorized_mailq_users":                  true,
	"authorized_submit_users":                 true,
	"local_header_rewrite_clients":            true,
	"smtpd_sasl_exceptions_networks":          true,
	"postscreen_access_list":                  true,
	"smtpd_tls_exempt_networks":               true,
	"smtp_tls_policy_maps":                    true,
	"proxy_read_maps":                         true,
	"proxy_write_maps":                        true,
	"sender_dependent_default_transport_maps": true,
}

// isMapParameter reports whether main.cf parameter name takes a list of
// lookup tables.
func isMapParameter(name string) bool {
	return strings.HasSuffix(name, "_maps") || strings.HasSuffix(name, "_checks") || mapValued[name]
}
