// Package dnscheck is the `dns_check` resource type: a gate that
// completes when every resolver of a list answers the expected records
// for one name and type, and fails when a timeout passes first. It is how
// a cutover waits until "the resolvers the world uses already answer the
// new MX" before it goes on (stopping the old server, say). It changes
// nothing anywhere: Restore has nothing to undo.
//
// Read asks each resolver once, in parallel (dnsclient.Lookup: UDP, TCP
// when truncated or when asked), and keeps each answer — its records, its
// response code and the TTL its cache has left — in the snapshot; Current
// is the configuration with the computed `answers`, resolver by resolver.
// Plan shows what each resolver answers now and how long its cache may
// keep that answer.
//
// Apply and Check look again and, while a resolver answers otherwise,
// wait: until the earliest moment a cached wrong answer can expire (the
// lowest TTL left among the wrong answers), but never longer than the
// poll interval nor past the timeout, which runs from the first Apply
// (the wait is inline; an Apply given Resume data takes its start from
// there, as postfix_queue does).
//
// Records are compared as sets, in dnsclient.CheckRdata's form: names in
// lower case and fully qualified, addresses in their canonical form, a
// TXT record's strings joined. NXDOMAIN and NODATA are answers (no
// records); SERVFAIL, REFUSED, a timeout or nothing listening are not,
// and never pass.
//
// It asks only the resolvers the configuration lists, never this
// machine's own resolver, and takes them as IP addresses only: a resolver
// named by a host name would be found through the very DNS being checked.
package dnscheck
