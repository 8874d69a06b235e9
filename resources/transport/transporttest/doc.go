// Package transporttest holds CheckHost, the conformance checks every
// transport.Host implementation runs: command quoting, exit codes, stdin
// and environment, cancellation, file operations with modes, owners and
// times, directory listings, and user and group lookups.
//
// It checks a Host only; the servers a remote Host talks to in tests come
// from package testbed. Like testbed, it is for tests and imports testing.
package transporttest
