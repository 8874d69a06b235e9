// Package dnsclient talks to a zone's authoritative server for the DNS
// resource types: a Client reads one RRset with a direct, non-recursive
// query and replaces one RRset with one TSIG-signed RFC 2136 UPDATE; a Pool
// holds one Client per dns_server block of a run. VerifyKey proves a
// server's key with one signed query, once per client, so that a plan can
// fail on a wrong key before anything is applied. Every import of
// github.com/miekg/dns in mailplan lives here, so rdata parsing and
// canonical forms (ParseRdata, MXRdata, Fqdn, InZone) are here too.
//
// What it guarantees:
//   - Queries and updates go only to the address of the dns_server block
//     they were made for, never to the machine's resolver.
//   - A read requires an authoritative answer (AA set): TTLs are then the
//     zone's own, not what a cache has left (RFC 1035 §4.1.1).
//   - An update is one message carrying its prerequisite and its changes,
//     which the server applies atomically or not at all (RFC 2136 §3).
//     The prerequisite is the RRset as it was read, so a change made by
//     someone else since fails the update (NXRRSET/YXRRSET) instead of
//     being overwritten.
//   - Failures are *Error values naming the dns_server block and the
//     record, classified by Kind, with predicates for the kinds callers
//     act on (IsRefused, IsChanged, IsBadSig, …).
//   - The TSIG secret is never logged nor put into an error.
//
// It does not decide what to change (package resources/dns does), and it
// does not query anything but the configured server: checks that would
// need another server (an MX target in a zone served elsewhere) are not
// made.
package dnsclient
