package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/exec"
	"github.com/mailplan/mailplan/engine/lang"
	"github.com/mailplan/mailplan/engine/plans"
)

var streamClock = func() time.Time { return time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC) }

// emitAll writes ms to a stream on a fixed clock.
func emitAll(t *testing.T, ms ...Message) []byte {
	t.Helper()
	var buf bytes.Buffer
	s := NewStream(&buf, streamClock)
	for _, m := range ms {
		if err := s.Emit(m); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// The plan's messages, for every plan the text and JSON renderers are
// tested with: golden, and never a sensitive value.
func TestPlanMessages(t *testing.T) {
	for _, tc := range planCases() {
		t.Run(tc.name, func(t *testing.T) {
			got := emitAll(t, PlanMessages(tc.plan)...)
			if bytes.Contains(got, []byte(secret)) {
				t.Errorf("stream shows a sensitive value:\n%s", got)
			}
			golden(t, "plan_"+tc.name+".stream.golden", got)
		})
	}
}

func TestStreamCommonFields(t *testing.T) {
	got := emitAll(t, VersionMessage("0.1.0"), LogMessage(LevelWarn, "careful"))
	want := `{"@level":"info","@message":"mailplan 0.1.0","@module":"mailplan.ui","@timestamp":"2026-11-30T09:00:00Z","type":"version","mailplan":"0.1.0","ui":"1.0"}
{"@level":"warn","@message":"careful","@module":"mailplan.ui","@timestamp":"2026-11-30T09:00:00Z","type":"log"}
`
	if d := cmp.Diff(want, string(got)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// Messages emitted at once from several goroutines come out as whole
// lines.
func TestStreamConcurrent(t *testing.T) {
	var buf bytes.Buffer
	s := NewStream(&buf, nil)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.Emit(ProgressMessage(fmt.Sprintf("mailbox_copy.m[%d]", i), "bytes", int64(i), 100))
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 50 {
		t.Fatalf("%d lines, want 50", len(lines))
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
	}
}

func TestResourceOf(t *testing.T) {
	tests := []struct {
		addr string
		want StreamResource
	}{
		{"file.aliases", StreamResource{Addr: "file.aliases", Resource: "file.aliases", ResourceType: "file", ResourceName: "aliases"}},
		{"file.x[2]", StreamResource{Addr: "file.x[2]", Resource: "file.x[2]", ResourceType: "file", ResourceName: "x", ResourceKey: 2}},
		{`module.shadow["example.com"].postfix_map.bcc["a"]`, StreamResource{Addr: `module.shadow["example.com"].postfix_map.bcc["a"]`,
			Module: `module.shadow["example.com"]`, Resource: `postfix_map.bcc["a"]`, ResourceType: "postfix_map", ResourceName: "bcc", ResourceKey: "a"}},
		{"(state)", StreamResource{Addr: "(state)", Resource: "(state)"}},
	}
	for _, tt := range tests {
		if d := cmp.Diff(tt.want, ResourceOf(tt.addr)); d != "" {
			t.Errorf("%s (-want +got):\n%s", tt.addr, d)
		}
	}
}

// A diagnostic carries the source lines around its subject, with the
// subject's offsets in them, as the text form prints them.
func TestDiagnosticJSONSnippet(t *testing.T) {
	const name = "testdata/diagnostics.mp.hcl"
	src, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	files := map[string]*hcl.File{name: f}
	port := f.Body.(*hclsyntax.Body).Blocks[0].Body.Attributes["port"].Expr.Range()
	d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Incorrect attribute value type", Subject: &port}
	got := DiagnosticJSON(d, files)
	ctx := `host "old"`
	want := &JSONSnippet{Context: &ctx, Code: `  port    = "twenty-two"`, StartLine: 3,
		HighlightStartOffset: 12, HighlightEndOffset: 24, Values: []JSONExprValue{}}
	if diff := cmp.Diff(want, got.Snippet); diff != "" {
		t.Errorf("snippet (-want +got):\n%s", diff)
	}
	if got.Range == nil || got.Range.Start.Line != 3 || got.Range.Start.Column != 13 {
		t.Errorf("range %+v", got.Range)
	}
	// Without the file, no snippet.
	if got := DiagnosticJSON(d, nil); got.Snippet != nil {
		t.Errorf("snippet without the file: %+v", got.Snippet)
	}
}

// The snippet lists the values an expression refers to, but never a
// sensitive one.
func TestDiagnosticJSONValues(t *testing.T) {
	src := []byte("x = var.name\ny = var.pw\n")
	f, diags := hclsyntax.ParseConfig(src, "v.mp.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{
		"name": cty.StringVal("mx"),
		"pw":   cty.StringVal(secret).Mark(lang.Sensitive),
	})}}
	attrs := f.Body.(*hclsyntax.Body).Attributes
	for attr, want := range map[string][]JSONExprValue{
		"x": {{Traversal: "var.name", Statement: `is "mx"`}},
		"y": {},
	} {
		expr := attrs[attr].Expr
		r := expr.Range()
		d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "s", Subject: &r, Expression: expr, EvalContext: ctx}
		got := DiagnosticJSON(d, map[string]*hcl.File{"v.mp.hcl": f})
		if diff := cmp.Diff(want, got.Snippet.Values); diff != "" {
			t.Errorf("%s (-want +got):\n%s", attr, diff)
		}
		b, _ := json.Marshal(got)
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s: a sensitive value in %s", attr, b)
		}
	}
}

// After an apply, outputs carry their value and type, except a sensitive
// one, which has neither, and the sensitive parts of a value, which are
// null.
func TestOutputsMessage(t *testing.T) {
	p := &plans.Plan{Outputs: map[string]*plans.OutputChange{
		"path": {Action: plans.Create, After: cty.StringVal("/etc/aliases")},
		"pw":   {Action: plans.Create, After: cty.StringVal(secret), Sensitive: true},
		"host": {Action: plans.Update, After: cty.ObjectVal(map[string]cty.Value{
			"name": cty.StringVal("x"), "key": cty.StringVal(secret).Mark(lang.Sensitive)})},
		"later": {Action: plans.Create, After: cty.UnknownVal(cty.String)},
		"gone":  {Action: plans.Delete, Before: cty.StringVal("old"), After: cty.NullVal(cty.String)},
	}}
	m, err := OutputsMessage(p)
	if err != nil {
		t.Fatal(err)
	}
	got := emitAll(t, m)
	if bytes.Contains(got, []byte(secret)) {
		t.Errorf("a sensitive value: %s", got)
	}
	want := `{"@level":"info","@message":"Outputs: 4","@module":"mailplan.ui","@timestamp":"2026-11-30T09:00:00Z","type":"outputs",` +
		`"outputs":{"host":{"sensitive":true},"later":{"sensitive":false},"path":{"sensitive":false,"type":"string","value":"/etc/aliases"},"pw":{"sensitive":true}}}` + "\n"
	if d := cmp.Diff(want, string(got)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestOpMessages(t *testing.T) {
	rep := &exec.ApplyReport{Added: 1, Changed: 2, Destroyed: 3, RolledBack: []string{"file.a", "file.b"}}
	started := time.Date(2026, 11, 29, 18, 12, 7, 0, time.UTC)
	got := emitAll(t,
		HookMessage(MsgApplyStart, "file.x", "create", 0, ""),
		HookMessage(MsgApplyProgress, "file.x", "create", 10*time.Second, ""),
		HookMessage(MsgApplyErrored, "file.x", "create", 12*time.Second, "disk full"),
		HookMessage(MsgRollbackComplete, "file.x", "", 0, ""),
		WaitMessage("dns_record.mx", started.Add(time.Hour), "TTL 3600", false),
		GateMessage("postfix_queue.old", GateFailed, "3 messages left"),
		SummaryMessage("apply", rep),
		SummaryMessage("destroy", rep),
		SummaryMessage("rollback", rep),
		RollbackPlanMessage("apply", started, []string{"file.b (create)", "file.a (update)"}, []string{"file.a"}),
	)
	golden(t, "stream_ops.golden", got)
}

// docs/json-format.md documents every message type under its own
// heading.
func TestStreamTypesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/json-format.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{MsgVersion, MsgLog, MsgDiagnostic, MsgPlannedChange, MsgChangeSummary, MsgOutputs,
		MsgApplyStart, MsgApplyProgress, MsgApplyComplete, MsgApplyErrored, MsgResourceStatus, MsgWait, MsgGate,
		MsgCopyProgress, MsgRollbackPlan, MsgRollbackStart, MsgRollbackComplete, MsgRollbackErrored} {
		if !regexp.MustCompile("(?m)^### .*`" + typ + "`").Match(doc) {
			t.Errorf("docs/json-format.md has no heading for %q", typ)
		}
	}
	if !bytes.Contains(doc, []byte(`"ui": "`+StreamVersion+`"`)) {
		t.Errorf("docs/json-format.md does not name the format version %s", StreamVersion)
	}
}
