// Package all is the one explicit list of every resource type mailplan
// knows: Registry builds the resource.Registry of them all, the host types
// sharing the run's connection pool and the DNS types one DNS client per
// dns_server block. There is no init() registration and no blank import: a
// type exists when it is listed here, and adding one is one line.
package all
