package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// A backend block the engine cannot use is an error that points at the
// block or the attribute at fault (file:line:col), not a bare string.
func TestBackendDiagnosticsHaveRanges(t *testing.T) {
	cases := []struct {
		name, src, summary, at string
	}{
		{"unknown type", "mailplan {\n  backend \"s3\" {\n    bucket = \"x\"\n  }\n}\n", "Unsupported backend", "main.mp.hcl:2:3"},
		{"unknown setting", "mailplan {\n  backend \"local\" {\n    conn_str = \"x\"\n  }\n}\n", "Unsupported backend setting", "main.mp.hcl:3:5"},
		{"path not a string", "mailplan {\n  backend \"local\" {\n    path = [\"a\"]\n  }\n}\n", "Invalid backend setting", "main.mp.hcl:3:12"},
		{"path not literal", "mailplan {\n  backend \"local\" {\n    path = var.x\n  }\n}\n", "Variables not allowed", "main.mp.hcl:3:12"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writePlan(t, dir, tc.src)
			e := newTestEngine(&fakeFile{})
			_, diags := e.OpenState(context.Background(), Options{Dir: dir}, false)
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			d := diags[0]
			if d.Summary != tc.summary {
				t.Errorf("summary %q, want %q (%s)", d.Summary, tc.summary, d.Detail)
			}
			if d.Subject == nil {
				t.Fatalf("%s: no source range", d.Summary)
			}
			at := fmt.Sprintf("%s:%d:%d", filepath.Base(d.Subject.Filename), d.Subject.Start.Line, d.Subject.Start.Column)
			if at != tc.at {
				t.Errorf("at %s, want %s", at, tc.at)
			}
		})
	}
}
