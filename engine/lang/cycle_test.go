package lang

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCycleDiagnostic: a cycle is told along its references, from its
// smallest block, with where each block is.
func TestCycleDiagnostic(t *testing.T) {
	dir, _, diags := evaluateFiles(t, map[string]string{"main.mp.hcl": `locals {
  a = local.c
  b = "${local.a}x"
  c = local.b
}
`})
	if len(diags) != 1 {
		t.Fatalf("want one diagnostic, got %s", diags.Error())
	}
	d := diags[0]
	f := dir + "/main.mp.hcl"
	want := "These blocks refer to each other in a circle, so none can be evaluated first: " +
		"local.a (" + f + ":2,3-14) → local.c (" + f + ":4,3-14) → local.b (" + f + ":3,3-20). " +
		"Break the cycle by removing one of the references or depends_on entries."
	if diff := cmp.Diff("Dependency cycle", d.Summary); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, d.Detail); diff != "" {
		t.Errorf("detail (-want +got):\n%s", diff)
	}
	if d.Subject == nil || d.Subject.Start.Line != 2 || !strings.HasSuffix(d.Subject.Filename, "main.mp.hcl") {
		t.Errorf("subject %v, want line 2 of main.mp.hcl", d.Subject)
	}
}
