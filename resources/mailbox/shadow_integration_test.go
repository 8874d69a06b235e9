package mailbox_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/resources/mailbox"
)

// TestShadowCleanup: the destination holds shadow copies (marked by their
// Delivered-To) of two source messages, a shadow copy of a message the
// source no longer has, and an uploaded copy of a third source message.
// The two shadow copies make way for the source's messages (their names,
// flags and so UIDs); the lone shadow copy stays; the uploaded copy stays
// and is not copied again (dedupe). A rollback puts the shadow copies
// back.
func TestShadowCleanup(t *testing.T) {
	e := newEnv(t)
	makeTree(t, e.src, 1, 4, 41)
	md := filepath.Join(e.src, "user0", "Maildir")
	dmd := filepath.Join(e.dst, "user0", "Maildir")
	var srcMsgs []string
	for i := range 3 {
		p := filepath.Join(md, "cur", fmt.Sprintf("175000000%d.M%dP1.old:2,RS", i, i))
		must(t, os.WriteFile(p, fmt.Appendf(nil, "Message-ID: <m%d@example.org>\nSubject: %d\n\nbody %d\n", i, i, i), 0o600))
		srcMsgs = append(srcMsgs, p)
	}
	shadow0 := shadowCopy(t, srcMsgs[0], dmd, "1800000000.M0P9.new")
	shadow1 := shadowCopy(t, srcMsgs[1], dmd, "1800000001.M1P9.new")
	lone := filepath.Join(dmd, "new", "1800000002.M2P9.new")
	must(t, os.WriteFile(lone, []byte("Delivered-To: alice@example.com.migration\nMessage-ID: <gone@example.org>\n\nonly here\n"), 0o600))
	uploaded := filepath.Join(dmd, "cur", "1800000003.M3P9.new:2,S")
	data, err := os.ReadFile(srcMsgs[2])
	must(t, err)
	must(t, os.WriteFile(uploaded, append([]byte("Delivered-To: alice@example.com\n"), data...), 0o600))
	before := tree(t, e.dst)

	cfg := e.config(map[string]cty.Value{
		"shadow_header": cty.StringVal("delivered-to"),
		"shadow_match":  cty.StringVal(`@example\.com\.migration$`),
	})
	r := e.mustApply(cfg)
	for _, want := range []string{"1 already there", "replace 2 shadow copies with the source's"} {
		if !strings.Contains(r.plan.Summary, want) {
			t.Errorf("summary %q, want %q", r.plan.Summary, want)
		}
	}
	if got := count(r.read.Current, "pending_removals"); got != 2 {
		t.Errorf("pending_removals %d, want 2", got)
	}
	has := func(p string) bool { _, err := os.Stat(p); return err == nil }
	for _, p := range []string{shadow0, shadow1} {
		if has(p) {
			t.Errorf("shadow copy still there: %s", p)
		}
	}
	for _, p := range []string{lone, uploaded, filepath.Join(dmd, "cur", filepath.Base(srcMsgs[0])), filepath.Join(dmd, "cur", filepath.Base(srcMsgs[1]))} {
		if !has(p) {
			t.Errorf("missing at the destination: %s", p)
		}
	}
	if has(filepath.Join(dmd, "cur", filepath.Base(srcMsgs[2]))) {
		t.Errorf("the uploaded message was copied again")
	}
	e.settled(cfg)

	e.restore(cfg, r.journal)
	if diff := diffTrees(before, tree(t, e.dst)); diff != "" {
		t.Errorf("after rollback: %s", diff)
	}
}

func TestValidateShadow(t *testing.T) {
	e := &env{t: t, typ: mailbox.New(nil), src: "/var/vmail", dst: "/srv/vmail"}
	for _, tc := range []struct {
		name  string
		attrs map[string]cty.Value
		want  []string
	}{
		{"bad pattern and name", map[string]cty.Value{"shadow_header": cty.StringVal("Delivered-To:"), "shadow_match": cty.StringVal("(")},
			[]string{"Invalid header name", "Invalid shadow pattern"}},
		{"header alone", map[string]cty.Value{"shadow_header": cty.StringVal("Delivered-To")}, []string{"Incomplete shadow cleanup"}},
		{"pattern alone", map[string]cty.Value{"shadow_match": cty.StringVal("x")}, []string{"Incomplete shadow cleanup"}},
		{"empty pattern", map[string]cty.Value{"shadow_header": cty.StringVal("Delivered-To"), "shadow_match": cty.StringVal("")}, []string{"Invalid shadow pattern"}},
		{"good", map[string]cty.Value{"shadow_header": cty.StringVal("X-Original-To"), "shadow_match": cty.StringVal(`\.migration$`)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := e.typ.Validate(t.Context(), e.config(tc.attrs))
			if tc.want == nil && err != nil {
				t.Errorf("got %v", err)
			}
			for _, w := range tc.want {
				if err == nil || !strings.Contains(errorsText(err), w) {
					t.Errorf("missing %q in %v", w, err)
				}
			}
		})
	}
}
