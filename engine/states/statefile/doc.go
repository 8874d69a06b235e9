// Package statefile is the on-disk encoding of states.State: one JSON
// document, indented, keys in a stable order, ending in a newline, so that
// state files diff well and two encodings of the same state are identical.
//
// It owns the format version: Encode always writes states.FormatVersion,
// and Decode refuses a version it does not know (a newer mailplan wrote
// it), fields it does not know (an older mailplan would drop them on the
// next write), and empty or corrupt input, each with an error that says
// which. It also normalises what JSON cannot round-trip exactly (embedded
// JSON values are compacted, a JSON null becomes a nil value).
//
// It does not read or write files, take locks or choose serials and
// lineages: that is the backends' job (states/local, later states/pg).
package statefile
