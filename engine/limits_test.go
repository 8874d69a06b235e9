package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/mailplan/mailplan/engine/configs"
)

// forEachPlan is a plan of a*b fake_file instances made by for_each over
// toset() of a for expression, the usual way to write a large for_each.
func forEachPlan(t testing.TB, a, b int) string {
	t.Helper()
	dir := t.TempDir()
	src := fmt.Sprintf(`
resource "fake_file" "f" {
  for_each = toset([for p in setproduct(range(%d), range(%d)) : "${p[0]}-${p[1]}"])
  path     = "/nonexistent/${each.key}"
  content  = each.value
}
`, a, b)
	if err := os.WriteFile(filepath.Join(dir, "main.mp.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// BenchmarkValidateForEach measures validate (load and evaluate) of a
// for_each over 10,000, 20,000 and 100,000 instances: the cost must grow
// about linearly. Before toset() found its element type in linear time,
// the three took 3 s, 14 s and 269 s. Run with
// go test -run '^$' -bench ValidateForEach -benchtime 1x ./engine/
func BenchmarkValidateForEach(b *testing.B) {
	for _, n := range []int{10_000, 20_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			dir := forEachPlan(b, n/100, 100)
			e := newTestEngine(&fakeFile{})
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				s, diags := e.Load(Options{Dir: dir, Environ: []string{}, ValidateOnly: true})
				if diags.HasErrors() {
					b.Fatal(diags.Error())
				}
				if got := len(s.Config.Instances); got != n {
					b.Fatalf("%d instances, want %d", got, n)
				}
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				b.Logf("%d instances: validate %v, heap in use %d MiB", n, time.Since(start).Round(time.Millisecond), ms.HeapInuse>>20)
				s.Close()
			}
		})
	}
}

// TestLimits checks the limits whose test plans are too large or too
// special for testdata/invalid: each must fail with its diagnostic at its
// file:line:col, and change nothing.
func TestLimits(t *testing.T) {
	// countPlan is a plan of one resource with this count.
	countPlan := func(count string) map[string]string {
		return map[string]string{"main.mp.hcl": "resource \"fake_file\" \"a\" {\n  count   = " + count + "\n  path    = \"/nonexistent/${count.index}\"\n  content = \"\"\n}\n"}
	}
	deep := "locals {\n  x = " + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + "\n}\n"
	cases := []struct {
		name    string
		files   map[string]string // plan directory files; "@dev/zero" makes a symlink
		vars    []string          // -var-file names in the directory, -var values otherwise
		summary string
		where   string // file:line:col of the subject; "" for none
	}{
		{
			name:    "nested 100,000 deep",
			files:   map[string]string{"main.mp.hcl": deep},
			summary: "Nesting too deep",
			where:   "main.mp.hcl:2:262",
		},
		{
			name:    "plan file is /dev/zero",
			files:   map[string]string{"main.mp.hcl": "@/dev/zero"},
			summary: "Not a regular file",
			where:   "main.mp.hcl:1:1",
		},
		{
			name:    "plan file is a FIFO",
			files:   map[string]string{"a.mp.hcl": "", "x.mp.hcl": "@fifo"},
			summary: "Not a regular file",
			where:   "x.mp.hcl:1:1",
		},
		{
			name:    "plan file too large",
			files:   map[string]string{"main.mp.hcl": "# " + strings.Repeat("x", configs.MaxFileSize) + "\n"},
			summary: "File too large",
			where:   "main.mp.hcl:1:1",
		},
		{
			name:    "plan file with too many tokens",
			files:   map[string]string{"main.mp.hcl": "locals {\n  x = [" + strings.Repeat("1,", configs.MaxTokens/2) + "]\n}\n"},
			summary: "Too many tokens",
			where:   "main.mp.hcl:2:1000002",
		},
		{
			name:    "-var-file=/dev/zero",
			files:   map[string]string{"main.mp.hcl": "variable \"x\" {}\n", "zero.vars": "@/dev/zero"},
			vars:    []string{"zero.vars"},
			summary: "Not a regular file",
			where:   "zero.vars:1:1",
		},
		{
			name:    "-var-file nested too deep",
			files:   map[string]string{"main.mp.hcl": "variable \"x\" {}\n", "deep.vars": "\n" + deep},
			vars:    []string{"deep.vars"},
			summary: "Nesting too deep",
			where:   "deep.vars:3:262",
		},
		{
			name:    "-var value nested too deep",
			files:   map[string]string{"main.mp.hcl": "variable \"x\" {\n  type = list(any)\n}\n"},
			vars:    []string{"x=" + strings.Repeat("[", 100_000)},
			summary: "Nesting too deep",
			where:   "<value for var.x>:1:257",
		},
		{
			name: "file() of /dev/zero",
			files: map[string]string{"main.mp.hcl": `resource "fake_file" "a" {
  path    = "/nonexistent/a"
  content = file("/dev/zero")
}
`},
			summary: "Error in function call",
			where:   "main.mp.hcl:3:13",
		},
		{
			name:    "count of ten thousand million",
			files:   countPlan("10000000000"),
			summary: "Too many instances",
			where:   "main.mp.hcl:2:13",
		},
		{
			name:    "count beyond int64",
			files:   countPlan("1e30"),
			summary: "Too many instances",
			where:   "main.mp.hcl:2:13",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range c.files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				var err error
				switch {
				case content == "@fifo":
					err = syscall.Mkfifo(p, 0o644)
				case strings.HasPrefix(content, "@"):
					err = os.Symlink(content[1:], p)
				default:
					err = os.WriteFile(p, []byte(content), 0o644)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			var vars []VarArg
			for _, v := range c.vars {
				if strings.Contains(v, "=") {
					vars = append(vars, VarArg{Value: v})
				} else {
					vars = append(vars, VarArg{File: true, Value: filepath.Join(dir, v)})
				}
			}
			e := newTestEngine(&fakeFile{})
			done := make(chan struct{})
			var diags hcl.Diagnostics
			go func() {
				defer close(done)
				var s *Session
				s, diags = e.Load(Options{Dir: dir, Vars: vars, Environ: []string{}})
				if s != nil {
					s.Close()
				}
			}()
			select {
			case <-done:
			case <-time.After(time.Minute):
				t.Fatal("load did not finish within a minute")
			}
			var got *hcl.Diagnostic
			for _, d := range diags {
				if d.Severity == hcl.DiagError && d.Summary == c.summary {
					got = d
					break
				}
			}
			if got == nil {
				t.Fatalf("no error %q; got:%s", c.summary, describeDiags(diags))
			}
			where := ""
			if got.Subject != nil {
				rel, err := filepath.Rel(dir, got.Subject.Filename)
				if err != nil || strings.HasPrefix(rel, "..") {
					rel = got.Subject.Filename
				}
				where = fmt.Sprintf("%s:%d:%d", filepath.ToSlash(rel), got.Subject.Start.Line, got.Subject.Start.Column)
			}
			if where != c.where {
				t.Errorf("%s at %s, want %s (%s)", c.summary, where, c.where, got.Detail)
			}
			if _, err := os.Stat(filepath.Join(dir, ".mailplan")); !os.IsNotExist(err) {
				t.Errorf("loading created %s", filepath.Join(dir, ".mailplan"))
			}
		})
	}
}
