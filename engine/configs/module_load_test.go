package configs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadInstalledGitModules loads git modules from a manifest and lock
// file written by hand, as `mailplan init` leaves them: no git, no
// network.
func TestLoadInstalledGitModules(t *testing.T) {
	const src = "git::https://git.example/ops/m.git//relay?ref=v1"
	const key = "git::https://git.example/ops/m.git?ref=v1"
	c1, c2 := strings.Repeat("1", 40), strings.Repeat("2", 40)
	manifest := func(source, commit string) string {
		return fmt.Sprintf(`{"modules":[{"key":"relay","source":%q,"commit":%q,"dir":".mailplan/modules/relay/relay"}]}`, source, commit)
	}
	lock := func(commit string) string {
		return fmt.Sprintf("module %q {\n  ref    = \"v1\"\n  commit = %q\n}\n", key, commit)
	}
	checkout := map[string]string{
		".mailplan/modules/relay/relay/main.mp.hcl":  "module \"shared\" {\n  source = \"../shared\"\n}\n",
		".mailplan/modules/relay/shared/main.mp.hcl": "output \"x\" {\n  value = 1\n}\n",
	}
	root := fmt.Sprintf("# a plan\nmodule \"relay\" {\n  source = %q\n}\n", src)
	for _, tc := range []struct {
		name   string
		files  map[string]string
		err    string // "" loads
		detail string
	}{
		{name: "installed", files: map[string]string{".mailplan/modules/modules.json": manifest(src, c1), LockFileName: lock(c1)}},
		{name: "not installed", files: map[string]string{}, err: "Module not installed", detail: "is not installed"},
		{name: "source changed", files: map[string]string{".mailplan/modules/modules.json": manifest(strings.Replace(src, "v1", "v0", 1), c1), LockFileName: lock(c1)}, err: "Module not installed", detail: "source changed"},
		{name: "lock moved on", files: map[string]string{".mailplan/modules/modules.json": manifest(src, c1), LockFileName: lock(c2)}, err: "Module not installed", detail: "locks it to commit " + c2},
		{name: "no lock", files: map[string]string{".mailplan/modules/modules.json": manifest(src, c1)}, err: "Module not installed", detail: "is not in " + LockFileName},
		{name: "bad manifest", files: map[string]string{".mailplan/modules/modules.json": "{", LockFileName: lock(c1)}, err: "Cannot read the module manifest", detail: "mailplan init"},
		{name: "escapes checkout", files: map[string]string{
			".mailplan/modules/modules.json":            manifest(src, c1),
			LockFileName:                                lock(c1),
			".mailplan/modules/relay/relay/main.mp.hcl": "module \"out\" {\n  source = \"../../../../wrap\"\n}\n",
			"wrap/main.mp.hcl":                          "locals {\n  a = 1\n}\n",
		}, err: "Module source outside its repository"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{"main.mp.hcl": root}
			for k, v := range checkout {
				files[k] = v
			}
			for k, v := range tc.files {
				files[k] = v
			}
			for name, content := range files {
				p := filepath.Join(dir, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			m, diags := NewLoader().Load(dir)
			if tc.err == "" {
				if diags.HasErrors() {
					t.Fatal(diags.Error())
				}
				if m.Children["relay"].Children["shared"] == nil {
					t.Errorf("the relative module inside the checkout was not loaded")
				}
				return
			}
			if len(diags) != 1 || diags[0].Summary != tc.err {
				t.Fatalf("got %v, want one %q", diags, tc.err)
			}
			d := diags[0]
			if !strings.Contains(d.Detail, tc.detail) {
				t.Errorf("detail %q does not hold %q", d.Detail, tc.detail)
			}
			if tc.name != "escapes checkout" {
				if d.Subject == nil || filepath.Base(d.Subject.Filename) != "main.mp.hcl" || d.Subject.Start.Line != 3 || d.Subject.Start.Column != 12 {
					t.Errorf("subject %v, want main.mp.hcl:3:12", d.Subject)
				}
				if !strings.Contains(d.Detail, `Run "mailplan init"`) && !strings.Contains(d.Detail, `"mailplan init"`) {
					t.Errorf("detail does not say to run mailplan init: %s", d.Detail)
				}
			}
		})
	}
}

// TestLoadLocalModulesNeedNoInit: a plan of local modules reads no
// manifest and no lock file, even broken ones.
func TestLoadLocalModulesNeedNoInit(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"main.mp.hcl":                    "module \"a\" {\n  source = \"./a\"\n}\n",
		"a/main.mp.hcl":                  "locals {\n  a = 1\n}\n",
		".mailplan/modules/modules.json": "{",
		LockFileName:                     "not hcl {",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, diags := NewLoader().Load(dir); diags.HasErrors() {
		t.Fatal(diags.Error())
	}
}
