// Package statefile is the on-disk encoding of states.State: one JSON
// document, keys in a stable order, ending in a newline, so that state
// files diff well and two encodings of the same state are identical. It is
// indented down to the resources and the changes of the last apply, each
// of which is one compact line (layout): they are nearly all of a state,
// and indented they made it twice the size. Files indented throughout, as
// mailplan wrote them before, read the same.
//
// Decode reads a state one resource and one change at a time (the JSON
// decoder never holds the whole document), and DecodeFrom reads it from
// a file as it goes; anything unusual is handed to a careful whole-document
// decode, which says what is wrong. A change of the last apply whose
// configuration, result or snapshot equals its instance's record shares
// the record's bytes in memory.
//
// It owns the format version: Encode always writes states.FormatVersion,
// and Decode refuses a version it does not know (a newer mailplan wrote
// it), fields it does not know (an older mailplan would drop them on the
// next write), and empty or corrupt input, each with an error that says
// which. It also normalises what JSON cannot round-trip exactly (embedded
// JSON values are compacted, a JSON null becomes a nil value).
//
// It does not read or write files, take locks or choose serials and
// lineages: that is the backends' job (states/local, states/pg).
package statefile
