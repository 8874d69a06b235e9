package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/resource"
)

// digestPlan has a sensitive variable that reaches a sensitive output.
func digestPlan(t *testing.T) (e *Engine, opts Options, stateDir string) {
	t.Helper()
	dir, data := t.TempDir(), t.TempDir()
	writePlan(t, dir, `
variable "data" { type = string }
variable "password" {
  default   = "hunter2"
  sensitive = true
}`+fileRes("a", "a", "a")+`
output "secret" {
  value     = var.password
  sensitive = true
}
`)
	opts = Options{Dir: dir, Vars: []VarArg{{Value: "data=" + data}}}
	return newTestEngine(&fakeFile{}), opts, filepath.Join(dir, ".mailplan")
}

func planOutput(t *testing.T, e *Engine, opts Options, name string) (plans.Action, string) {
	t.Helper()
	s, p, d := openPlan(t, e, opts)
	defer s.Close()
	var warn []string
	for _, w := range d {
		warn = append(warn, w.Summary)
	}
	return p.Plan.Outputs[name].Action, strings.Join(warn, "; ")
}

func plainSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// A sensitive output is kept as a keyed digest; the key is beside the
// state, 0600, never in it. A plain digest from an older state still
// compares (once), and a lost key shows a change, with a warning.
func TestSensitiveOutputDigestKeyed(t *testing.T) {
	e, opts, stateDir := digestPlan(t)
	if _, err := applyDir(t, e, opts); err != nil {
		t.Fatal(err)
	}
	statePath := filepath.Join(stateDir, "state.json")
	keyPath := filepath.Join(stateDir, "digest.key")
	state, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(keyPath)
	if err != nil {
		t.Fatalf("no digest key after the first apply: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("digest key mode %o, want 0600", fi.Mode().Perm())
	}
	key, _ := os.ReadFile(keyPath)
	j, _ := ctyjson.Marshal(cty.StringVal("hunter2"), cty.DynamicPseudoType)
	plain := plainSHA256(string(j))
	for _, leak := range []string{"hunter2", plain, strings.TrimSpace(string(key))} {
		if strings.Contains(string(state), leak) {
			t.Errorf("the state holds %q:\n%s", leak, state)
		}
	}
	if !strings.Contains(string(state), `"digest": "`+resource.DigestPrefix) {
		t.Errorf("the state has no keyed digest:\n%s", state)
	}
	if a, w := planOutput(t, e, opts, "secret"); a != plans.NoOp || w != "" {
		t.Errorf("re-plan: output %v, warnings %q; want no-op, none", a, w)
	}

	// A state written before keyed digests.
	i := strings.Index(string(state), resource.DigestPrefix)
	end := i + strings.IndexByte(string(state[i:]), '"')
	legacy := string(state[:i]) + plain + string(state[end:])
	if err := os.WriteFile(statePath, []byte(legacy), 0o600); err != nil {
		t.Fatal(err)
	}
	if a, w := planOutput(t, e, opts, "secret"); a != plans.NoOp || w != "" {
		t.Errorf("plain digest: output %v, warnings %q; want no-op, none", a, w)
	}
	if err := os.WriteFile(statePath, state, 0o600); err != nil {
		t.Fatal(err)
	}

	// The key is lost: a new one is made, the digest is unknown.
	if err := os.Remove(keyPath); err != nil {
		t.Fatal(err)
	}
	a, w := planOutput(t, e, opts, "secret")
	if a != plans.Update || !strings.Contains(w, "another key") {
		t.Errorf("lost key: output %v, warnings %q; want update and a warning", a, w)
	}
}

// A saved plan keeps keyed hashes; applied with another key it is stale,
// and says why.
func TestSavedPlanDigestKey(t *testing.T) {
	e, opts, stateDir := digestPlan(t)
	save := func() (*Session, *plans.File) {
		s, p, _ := openPlan(t, e, opts)
		return s, s.PlanFile(p)
	}
	s, f := save()
	s.Close()
	for name, v := range f.Basis.SensitiveVariables {
		if !strings.HasPrefix(v, resource.DigestPrefix) || v == saltedHash(f.Basis.Salt, `"hunter2"`) {
			t.Errorf("sensitive variable %s kept as %q, want a keyed hash", name, v)
		}
	}
	check := func() error {
		s, p, _ := openPlan(t, e, opts)
		defer s.Close()
		return s.CheckSaved(f, p)
	}
	if err := check(); err != nil {
		t.Fatalf("same key: %v", err)
	}
	if err := os.Remove(filepath.Join(stateDir, "digest.key")); err != nil {
		t.Fatal(err)
	}
	err := check()
	var stale *StaleError
	if !errors.As(err, &stale) || !strings.Contains(err.Error(), "digest key") {
		t.Fatalf("other key: %v, want a stale plan naming the digest key", err)
	}
}
