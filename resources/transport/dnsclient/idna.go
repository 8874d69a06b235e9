package dnsclient

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// ASCIIName returns name with every label that holds non-ASCII characters
// replaced by its A-label ("münchen" → "xn--mnchen-3ya"), as IDNA2008
// prescribes for names put into the DNS (RFC 5891 §4, with the lookup
// mapping of UTS #46: upper case folded, width variants unified). Labels
// already in ASCII are kept as they are: underscores in SRV and DKIM names
// are not host names, and an A-label given as such stays.
//
// Without it, a Unicode name would reach the server as its UTF-8 bytes
// (`\195\188nchen`), a name no resolver ever looks up. A label the
// conversion refuses (a leading combining mark, a right-to-left label
// mixed with left-to-right letters, a joiner out of context) is an error
// saying why. Like
// browsers, it follows UTS #46, which lets some characters through that
// IDNA2008 alone would not (symbols such as "☃").
func ASCIIName(name string) (string, error) {
	if isASCII(name) {
		return name, nil
	}
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("the name %q is not valid UTF-8", name)
	}
	labels := strings.Split(name, ".")
	for i, l := range labels {
		if isASCII(l) {
			continue
		}
		a, err := idna.Lookup.ToASCII(l)
		if err != nil {
			return "", fmt.Errorf("the label %q of %q cannot be an internationalised domain name (IDNA2008): %v", l, name, err)
		}
		if len(a) > 63 {
			return "", fmt.Errorf("the label %q of %q is %d octets as an A-label (%s); a label holds at most 63", l, name, len(a), a)
		}
		labels[i] = a
	}
	return strings.Join(labels, "."), nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// nameField is, for the types whose rdata ends in a domain name, true: the
// last field of their rdata is converted by ASCIIName before parsing.
// Text (TXT, CAA values) keeps its UTF-8: it is not a name.
var nameField = map[string]bool{"CNAME": true, "PTR": true, "NS": true, "DNAME": true, "MX": true, "SRV": true}

// asciiRdata converts the domain name at the end of rdata of type rtype.
func asciiRdata(rtype, rdata string) (string, error) {
	if isASCII(rdata) || !nameField[strings.ToUpper(rtype)] {
		return rdata, nil
	}
	f := strings.Fields(rdata)
	if len(f) == 0 {
		return rdata, nil
	}
	a, err := ASCIIName(f[len(f)-1])
	if err != nil {
		return "", err
	}
	f[len(f)-1] = a
	return strings.Join(f, " "), nil
}
