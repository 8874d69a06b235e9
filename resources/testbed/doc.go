// Package testbed starts real servers for tests: an OpenSSH sshd on
// 127.0.0.1 with its own host key, client key and known_hosts, each in the
// test's own temporary directory and on a free port, stopped when the test
// ends. It also holds CheckHost, the conformance checks every
// transport.Host implementation runs.
//
// It is imported by tests only. Servers listen on loopback addresses only.
// A missing server binary skips the test on a laptop and fails it under
// CI=true or MAILPLAN_E2E=1 (see Require): runtime gating, not build tags.
package testbed
