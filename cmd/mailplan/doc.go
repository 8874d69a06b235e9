// Command mailplan migrates mail domains between servers as code. This
// package is a thin shell: it parses flags, calls the engine once, renders
// the result and picks the exit code.
package main
