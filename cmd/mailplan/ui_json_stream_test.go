package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/mailplan/mailplan/engine/render"
)

var update = flag.Bool("update", false, "rewrite the golden outputs in testdata")

// streamFields is the field each message type carries besides the common
// ones (docs/json-format.md); "" for none.
var streamFields = map[string][]string{
	render.MsgVersion:          {"mailplan", "ui"},
	render.MsgLog:              nil,
	render.MsgDiagnostic:       {"diagnostic"},
	render.MsgPlannedChange:    {"change"},
	render.MsgChangeSummary:    {"changes"},
	render.MsgOutputs:          {"outputs"},
	render.MsgApplyStart:       {"hook"},
	render.MsgApplyProgress:    {"hook"},
	render.MsgApplyComplete:    {"hook"},
	render.MsgApplyErrored:     {"hook"},
	render.MsgResourceStatus:   {"status"},
	render.MsgWait:             {"wait"},
	render.MsgGate:             {"gate"},
	render.MsgCopyProgress:     {"progress"},
	render.MsgRollbackPlan:     {"rollback"},
	render.MsgRollbackStart:    {"hook"},
	render.MsgRollbackComplete: {"hook"},
	render.MsgRollbackErrored:  {"hook"},
}

var (
	reStamp   = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	reAfter   = regexp.MustCompile(`after \d+s`)
	reElapsed = regexp.MustCompile(`\[\d+s elapsed\]`)
)

// checkStream checks that every line of out is one message with the
// common fields and its type's field, the first a version message, and
// returns the lines normalised for a golden file: keys sorted, times
// "TIME", elapsed seconds 0, work a "$WORK".
func checkStream(out, work string) (string, error) {
	if out == "" {
		return "", fmt.Errorf("no output")
	}
	if !strings.HasSuffix(out, "\n") {
		return "", fmt.Errorf("the last line has no newline")
	}
	var norm strings.Builder
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		m, err := checkMessage(line)
		if err != nil {
			return "", fmt.Errorf("line %d: %v\n%s", i+1, err, line)
		}
		if i == 0 && (m["type"] != render.MsgVersion || m["ui"] != render.StreamVersion) {
			return "", fmt.Errorf("line 1 is not a version message with ui %q: %s", render.StreamVersion, line)
		}
		b, err := json.Marshal(normalise(m, work))
		if err != nil {
			return "", err
		}
		norm.Write(b)
		norm.WriteByte('\n')
	}
	return norm.String(), nil
}

// checkMessage parses one line and checks its common fields.
func checkMessage(line string) (map[string]any, error) {
	d := json.NewDecoder(strings.NewReader(line))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	if d.More() {
		return nil, fmt.Errorf("more than one value on the line")
	}
	switch m["@level"] {
	case "info", "warn", "error":
	default:
		return nil, fmt.Errorf("@level %v", m["@level"])
	}
	if s, ok := m["@message"].(string); !ok || s == "" {
		return nil, fmt.Errorf("@message %v", m["@message"])
	}
	if m["@module"] != render.StreamModule {
		return nil, fmt.Errorf("@module %v", m["@module"])
	}
	ts, _ := m["@timestamp"].(string)
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		return nil, fmt.Errorf("@timestamp: %v", err)
	}
	typ, _ := m["type"].(string)
	fields, known := streamFields[typ]
	if !known {
		return nil, fmt.Errorf("unknown type %q", typ)
	}
	for _, f := range fields {
		if _, ok := m[f]; !ok {
			return nil, fmt.Errorf("a %s message without %q", typ, f)
		}
	}
	return m, nil
}

// normalise replaces what changes from run to run.
func normalise(v any, work string) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			switch k {
			case "@timestamp":
				x[k] = "TIME"
			case "elapsed_seconds":
				x[k] = 0
			default:
				x[k] = normalise(e, work)
			}
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalise(e, work)
		}
		return x
	case string:
		if work != "" {
			x = strings.ReplaceAll(x, work, "$WORK")
		}
		x = reStamp.ReplaceAllString(x, "TIME")
		x = reAfter.ReplaceAllString(x, "after Ns")
		return reElapsed.ReplaceAllString(x, "[Ns elapsed]")
	}
	return v
}

// cmdJSONStream checks the standard output of the last command as a
// message stream (checkStream) and writes it, normalised, to FILE, for
// cmp against a golden file: jsonstream FILE. With no FILE it only
// checks.
func cmdJSONStream(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! jsonstream")
	}
	if len(args) > 1 {
		ts.Fatalf("usage: jsonstream [FILE]")
	}
	work := ts.Getenv("WORK")
	if real, err := os.Readlink(work); err == nil {
		work = real
	}
	norm, err := checkStream(ts.ReadFile("stdout"), work)
	if err != nil {
		ts.Fatalf("jsonstream: %v", err)
	}
	if len(args) == 1 {
		ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(norm), 0o644))
	}
}
