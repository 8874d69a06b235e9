package dnsclient

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies a failure of a query or an update.
type Kind int

// The kinds of failure. The ones callers act on have a predicate
// (IsRefused, …); any other is found with errors.As and Error.Kind.
const (
	// Other is a failure none of the kinds below describes.
	Other Kind = iota
	// Refused: the server refused the request (RCODE 5), typically
	// because its allow-update or update-policy does not let the key
	// change this zone or name.
	Refused
	// NotAuth: the server is not authoritative for the zone of an update
	// (RCODE 9 without a TSIG error, RFC 2136 §2.2).
	NotAuth
	// NotZone: a name in the update is not within the zone (RCODE 10).
	NotZone
	// Changed: the prerequisite failed (NXRRSET or YXRRSET, RFC 2136
	// §3.2): the RRset is no longer what was read, someone changed it.
	Changed
	// BadKey: the server does not know the TSIG key (RFC 8945 §5.2).
	BadKey
	// BadSig: the TSIG signature did not verify: wrong secret or
	// algorithm.
	BadSig
	// BadTime: the signing time is outside the server's fudge window
	// (clock skew, RFC 8945 §5.2.3).
	BadTime
	// Timeout: no answer in time.
	Timeout
	// Unreachable: the server's address refused the connection (nothing
	// listening there).
	Unreachable
	// NotAuthoritative: a query got an answer without the AA bit, or was
	// refused: the server does not serve the zone.
	NotAuthoritative
	// OutsideZone: the record's name is not within the zone; nothing was
	// sent.
	OutsideZone
)

func (k Kind) String() string {
	switch k {
	case Refused:
		return "REFUSED"
	case NotAuth:
		return "NOTAUTH"
	case NotZone:
		return "NOTZONE"
	case Changed:
		return "changed since read"
	case BadKey:
		return "BADKEY"
	case BadSig:
		return "BADSIG"
	case BadTime:
		return "BADTIME"
	case Timeout:
		return "timeout"
	case Unreachable:
		return "unreachable"
	case NotAuthoritative:
		return "not authoritative"
	case OutsideZone:
		return "outside zone"
	}
	return "error"
}

// Error is a failed query or update.
type Error struct {
	// Op is "query" or "update".
	Op string
	// Server names the dns_server block: `dns_server "primary" (192.0.2.1:53)`.
	Server string
	// Zone, Name and Type say which RRset; Zone is empty for a Lookup.
	Zone, Name, Type string
	Kind             Kind
	// Rcode is the response code's name when there was a response.
	Rcode string
	// Hint is a sentence saying what to do.
	Hint string
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s %s %s", e.Server, e.Op, e.Name, e.Type)
	if e.Zone != "" {
		fmt.Fprintf(&b, " (zone %s)", e.Zone)
	}
	b.WriteString(": ")
	switch {
	case e.Rcode != "" && e.Kind.String() != e.Rcode:
		fmt.Fprintf(&b, "%s (%s)", e.Kind, e.Rcode)
	default:
		b.WriteString(e.Kind.String())
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if e.Hint != "" {
		b.WriteString(". ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

func is(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}

// IsRefused reports whether err is a REFUSED update.
func IsRefused(err error) bool { return is(err, Refused) }

// IsChanged reports whether an update's prerequisite failed: the RRset
// changed since it was read.
func IsChanged(err error) bool { return is(err, Changed) }

// IsBadKey reports whether the server does not know the TSIG key.
func IsBadKey(err error) bool { return is(err, BadKey) }

// IsBadSig reports whether the TSIG signature did not verify.
func IsBadSig(err error) bool { return is(err, BadSig) }

// IsBadTime reports whether the TSIG time was outside the server's window.
func IsBadTime(err error) bool { return is(err, BadTime) }

// IsNotAuthoritative reports whether a query showed that the server does
// not serve the zone.
func IsNotAuthoritative(err error) bool { return is(err, NotAuthoritative) }
