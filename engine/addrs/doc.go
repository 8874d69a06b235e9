// Package addrs defines the typed addresses of mailplan objects: module
// instances, resources and resource instances, as users write them
// (`module.m["k"].file.aliases[0]`). It is a leaf package: it imports nothing
// else from mailplan.
package addrs
