package engine

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// invalidExpectation is the `# ERROR: <summary>` comment of a broken plan:
// the diagnostic that must be among the errors, and where its subject
// starts.
type invalidExpectation struct {
	Summary  string
	Filename string
	Line     int
}

func (x invalidExpectation) String() string {
	return fmt.Sprintf("%s:%d: %s", x.Filename, x.Line, x.Summary)
}

const errorMarker = "# ERROR:"

// readExpectation finds the single `# ERROR:` comment in the *.hcl files
// (plan files and variable files) of dir and its subdirectories (modules).
func readExpectation(t *testing.T, dir string) invalidExpectation {
	t.Helper()
	var found []invalidExpectation
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".hcl") {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for line := 1; sc.Scan(); line++ {
			if _, after, ok := strings.Cut(sc.Text(), errorMarker); ok {
				found = append(found, invalidExpectation{Summary: strings.TrimSpace(after), Filename: filepath.Clean(path), Line: line})
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 {
		t.Fatalf("%s: want exactly one %q comment, found %d", dir, errorMarker, len(found))
	}
	return found[0]
}

// readVars reads the optional `vars` file of a case: one -var argument a
// line, or -var-file=NAME for a variable file in the case's directory.
func readVars(t *testing.T, dir string) []VarArg {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "vars"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []VarArg
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "-var-file="):
			out = append(out, VarArg{File: true, Value: filepath.Join(dir, strings.TrimPrefix(l, "-var-file="))})
		default:
			out = append(out, VarArg{Value: l})
		}
	}
	return out
}

func describeDiags(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		where := "(no subject)"
		if d.Subject != nil {
			where = fmt.Sprintf("%s:%d", filepath.Clean(d.Subject.Filename), d.Subject.Start.Line)
		}
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		fmt.Fprintf(&b, "\n\t%s %s: %s — %s", sev, where, d.Summary, d.Detail)
	}
	return b.String()
}

// TestInvalidPlans loads every broken plan in testdata/invalid and checks
// that it fails with the diagnostic its `# ERROR:` comment names, pointing
// at the commented line, and that loading created nothing.
func TestInvalidPlans(t *testing.T) {
	root := filepath.Join("testdata", "invalid")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	sort.Strings(dirs)
	if len(dirs) < 45 {
		t.Errorf("only %d invalid plans; the corpus should have at least 45", len(dirs))
	}
	for _, name := range dirs {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(root, name)
			want := readExpectation(t, dir)
			e := newTestEngine(&fakeFile{})
			s, diags := e.Load(Options{Dir: dir, Vars: readVars(t, dir), Environ: []string{}})
			if s != nil {
				defer s.Close()
			}
			if !diags.HasErrors() {
				t.Fatalf("loaded without errors; want %s%s", want, describeDiags(diags))
			}
			var got *invalidExpectation
			for _, d := range diags {
				if d.Severity != hcl.DiagError || d.Summary != want.Summary {
					continue
				}
				x := invalidExpectation{Summary: d.Summary}
				if d.Subject != nil {
					x.Filename = filepath.Clean(d.Subject.Filename)
					x.Line = d.Subject.Start.Line
				}
				got = &x
				if x == want {
					break
				}
			}
			switch {
			case got == nil:
				t.Errorf("no error %q\nwant: %s\ngot:%s", want.Summary, want, describeDiags(diags))
			case *got != want:
				t.Errorf("error %q in the wrong place\nwant: %s\ngot:  %s\nall:%s", want.Summary, want, *got, describeDiags(diags))
			}
			for _, d := range diags {
				if d.Severity == hcl.DiagError && d.Subject == nil {
					t.Errorf("error without a subject: %s — %s", d.Summary, d.Detail)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, ".mailplan")); !os.IsNotExist(err) {
				t.Errorf("loading created %s", filepath.Join(dir, ".mailplan"))
			}
		})
	}
}
