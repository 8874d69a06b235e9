package dnsclient

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// Fqdn returns name fully qualified (one trailing dot) and in lower case.
// DNS names compare case-insensitively (RFC 4343); mailplan keeps them in
// lower case so that equal names are equal strings.
func Fqdn(name string) string {
	return strings.ToLower(dns.Fqdn(name))
}

// ValidName reports whether name is a domain name mailplan manages:
// labels of letters, digits, hyphens and underscores (SRV and DKIM names),
// or a wildcard label "*" (RFC 4592), at most 63 octets each.
func ValidName(name string) bool {
	if _, ok := dns.IsDomainName(name); !ok || name == "" {
		return false
	}
	if name == "." {
		return true
	}
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		if l == "*" {
			continue
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// InZone reports whether the fully qualified name is the zone's apex or a
// name under it.
func InZone(zone, name string) bool {
	return dns.IsSubDomain(Fqdn(zone), Fqdn(name))
}

// TypeCode returns the RR type number of a type mnemonic such as "MX".
func TypeCode(rtype string) (uint16, bool) {
	t, ok := dns.StringToType[strings.ToUpper(rtype)]
	return t, ok
}

// ParseRdata parses the rdata of one record of type rtype, written in
// zone-file syntax (RFC 1035 §5.1), and returns it in canonical form: as
// the server's answer would read back, domain names fully qualified and
// in lower case, a Unicode name at the end of CNAME, PTR, NS, DNAME, MX
// and SRV rdata as its A-label (ASCIIName). Domain names in rdata written without a trailing dot are
// taken as fully qualified ("mail.example.net" is "mail.example.net."):
// there is no $ORIGIN to append, and appending the zone is the classic
// zone-file mistake this avoids.
func ParseRdata(rtype, rdata string) (string, error) {
	code, ok := TypeCode(rtype)
	if !ok {
		return "", fmt.Errorf("unknown record type %q", rtype)
	}
	if strings.ContainsAny(rdata, "\n\r") {
		return "", fmt.Errorf("rdata %q spans lines; give one record per list element", rdata)
	}
	if strings.TrimSpace(rdata) == "" {
		return "", fmt.Errorf("empty rdata")
	}
	rdata, err := asciiRdata(rtype, rdata)
	if err != nil {
		return "", fmt.Errorf("%s record: %w", strings.ToUpper(rtype), err)
	}
	// A parser of our own rather than dns.NewRR, which allows $INCLUDE.
	zp := dns.NewZoneParser(strings.NewReader(". 0 IN "+strings.ToUpper(rtype)+" "+rdata+"\n"), ".", "")
	zp.SetIncludeAllowed(false)
	rr, ok := zp.Next()
	if err := zp.Err(); err != nil {
		return "", fmt.Errorf("%s record %q: %w", strings.ToUpper(rtype), rdata, parseErr(err))
	}
	if !ok || rr == nil {
		return "", fmt.Errorf("%s record %q: no record", strings.ToUpper(rtype), rdata)
	}
	if rr.Header().Rrtype != code {
		return "", fmt.Errorf("%s record %q: parses as %s", strings.ToUpper(rtype), rdata, dns.TypeToString[rr.Header().Rrtype])
	}
	if _, more := zp.Next(); more {
		return "", fmt.Errorf("%s record %q: more than one record", strings.ToUpper(rtype), rdata)
	}
	return canonical(rr)
}

// parseErr drops the parser's own rendering of our synthetic line.
func parseErr(err error) error {
	if pe, ok := err.(*dns.ParseError); ok {
		return fmt.Errorf("%s", strings.TrimPrefix(pe.Error(), "dns: "))
	}
	return err
}

// canonical renders rr's rdata as a round trip through the wire format
// would: hex in lower case, IPv6 addresses compressed, names in lower
// case.
func canonical(rr dns.RR) (string, error) {
	buf := make([]byte, dns.Len(rr)+64)
	n, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		return "", fmt.Errorf("encode %s record: %w", dns.TypeToString[rr.Header().Rrtype], err)
	}
	out, _, err := dns.UnpackRR(buf[:n], 0)
	if err != nil {
		return "", fmt.Errorf("decode %s record: %w", dns.TypeToString[rr.Header().Rrtype], err)
	}
	lowerNames(out)
	return rdataOf(out), nil
}

// rdataOf is the record in zone-file syntax without its owner, TTL, class
// and type.
func rdataOf(rr dns.RR) string {
	return strings.TrimPrefix(rr.String(), rr.Header().String())
}

// lowerNames puts the domain names inside rdata in lower case.
func lowerNames(rr dns.RR) {
	rr.Header().Name = strings.ToLower(rr.Header().Name)
	switch r := rr.(type) {
	case *dns.MX:
		r.Mx = strings.ToLower(r.Mx)
	case *dns.CNAME:
		r.Target = strings.ToLower(r.Target)
	case *dns.PTR:
		r.Ptr = strings.ToLower(r.Ptr)
	case *dns.SRV:
		r.Target = strings.ToLower(r.Target)
	case *dns.NS:
		r.Ns = strings.ToLower(r.Ns)
	case *dns.CAA:
		r.Tag = strings.ToLower(r.Tag)
	}
}

// MXRdata is the canonical rdata of an MX record; a Unicode host is given
// as its A-label (ASCIIName), or as it is when it has none.
func MXRdata(preference uint16, host string) string {
	if a, err := ASCIIName(host); err == nil {
		host = a
	}
	return strconv.Itoa(int(preference)) + " " + Fqdn(host)
}

// ParseMX splits canonical MX rdata into preference and host.
func ParseMX(rdata string) (uint16, string, error) {
	pref, host, ok := strings.Cut(rdata, " ")
	if !ok {
		return 0, "", fmt.Errorf("MX rdata %q: want PREFERENCE HOST", rdata)
	}
	n, err := strconv.ParseUint(pref, 10, 16)
	if err != nil {
		return 0, "", fmt.Errorf("MX rdata %q: %w", rdata, err)
	}
	return uint16(n), Fqdn(strings.TrimSpace(host)), nil
}

// MXTarget returns the exchange host of canonical MX rdata, "" when it is
// not MX rdata.
func MXTarget(rdata string) string {
	_, h, err := ParseMX(rdata)
	if err != nil {
		return ""
	}
	return h
}

// sortRecords sorts and deduplicates canonical rdata: an RRset is a set
// (RFC 2181 §5), and servers drop duplicates.
func sortRecords(rs []string) []string {
	if len(rs) == 0 {
		return nil
	}
	out := append([]string(nil), rs...)
	sort.Strings(out)
	j := 0
	for i, r := range out {
		if i == 0 || r != out[j-1] {
			out[j] = r
			j++
		}
	}
	return out[:j]
}

// SortRecords sorts and deduplicates canonical rdata.
func SortRecords(rs []string) []string { return sortRecords(rs) }

// rrs builds the records of s with their owner, class IN and TTL.
func (s RRset) rrs() ([]dns.RR, error) {
	out := make([]dns.RR, 0, len(s.Records))
	for _, r := range s.Records {
		rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", s.Name, s.TTL, s.Type, r))
		if err != nil {
			return nil, fmt.Errorf("%s %s record %q: %w", s.Name, s.Type, r, err)
		}
		out = append(out, rr)
	}
	return out, nil
}
