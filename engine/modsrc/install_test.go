package modsrc

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/mailplan/mailplan/engine/configs"
)

// relayModule is a module whose output names the version it is.
func relayModule(version string) string {
	return fmt.Sprintf("variable \"domain\" {\n  type    = string\n  default = \"example.com\"\n}\n\noutput \"version\" {\n  value = %q\n}\n", version)
}

func install(t *testing.T, dir string, upgrade bool) ([]string, hcl.Diagnostics) {
	t.Helper()
	return Install(context.Background(), dir, InstallOptions{Upgrade: upgrade})
}

func mustInstall(t *testing.T, dir string, upgrade bool) []string {
	t.Helper()
	lines, diags := install(t, dir, upgrade)
	if diags.HasErrors() {
		t.Fatalf("Install: %s", diags.Error())
	}
	return lines
}

// load loads the plan directory as validate, plan and apply do.
func load(t *testing.T, dir string) (*configs.Module, hcl.Diagnostics) {
	t.Helper()
	return configs.NewLoader().Load(dir)
}

func mustLoad(t *testing.T, dir string) *configs.Module {
	t.Helper()
	m, diags := load(t, dir)
	if diags.HasErrors() {
		t.Fatalf("Load: %s", diags.Error())
	}
	return m
}

func manifestCommits(t *testing.T, dir string) map[string]string {
	t.Helper()
	m, err := configs.ReadModuleManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range m.Modules {
		out[e.Key] = e.Commit
	}
	return out
}

func lockCommits(t *testing.T, dir string) map[string]string {
	t.Helper()
	lock, diags := configs.NewLoader().ReadModuleLock(dir)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	out := map[string]string{}
	for k, s := range lock.Sources {
		out[k] = s.Commit
	}
	return out
}

// TestInstallRefs installs one subdirectory by tag, branch, full and
// abbreviated commit and default branch, and loads them without the
// network.
func TestInstallRefs(t *testing.T) {
	tmp := t.TempDir()
	r := newRepo(t, tmp, "mods")
	c1 := r.commit("one", map[string]string{"relay/main.mp.hcl": relayModule("one"), "README": "x"})
	r.tag("v1.2.0", c1)
	c2 := r.commit("two", map[string]string{"relay/main.mp.hcl": relayModule("two")})
	r.branch("dev", c2)
	c3 := r.commit("three", map[string]string{"relay/main.mp.hcl": relayModule("three")})
	plan := filepath.Join(tmp, "plan")
	src := "git::" + r.URL() + "//relay"
	writePlan(t, plan, map[string]string{"main.mp.hcl": fmt.Sprintf(`
module "bytag" {
  source = "%[1]s?ref=v1.2.0"
}
module "bybranch" {
  source = "%[1]s?ref=dev"
}
module "bycommit" {
  source = "%[1]s?ref=%[2]s"
}
module "byshort" {
  source = "%[1]s?ref=%[3]s"
}
module "default" {
  source = "%[1]s"
}
`, src, c1, c2[:10])})

	lines := mustInstall(t, plan, false)
	wantLines := []string{
		"Downloading " + src + "?ref=dev for bybranch...",
		"Downloading " + src + "?ref=" + c1 + " for bycommit...",
		"Downloading " + src + "?ref=" + c2[:10] + " for byshort...",
		"Downloading " + src + "?ref=v1.2.0 for bytag...",
		"Downloading " + src + " for default...",
	}
	if d := cmp.Diff(wantLines, lines); d != "" {
		t.Errorf("lines (-want +got):\n%s", d)
	}
	want := map[string]string{"bytag": c1, "bybranch": c2, "bycommit": c1, "byshort": c2, "default": c3}
	if d := cmp.Diff(want, manifestCommits(t, plan)); d != "" {
		t.Errorf("manifest (-want +got):\n%s", d)
	}
	base := "git::" + r.URL()
	wantLock := map[string]string{base + "?ref=v1.2.0": c1, base + "?ref=dev": c2, base + "?ref=" + c1: c1, base + "?ref=" + c2[:10]: c2, base: c3}
	if d := cmp.Diff(wantLock, lockCommits(t, plan)); d != "" {
		t.Errorf("lock (-want +got):\n%s", d)
	}

	m := mustLoad(t, plan)
	versions := map[string]string{}
	for name, child := range m.Children {
		v, _ := child.Outputs["version"].Expr.Value(nil)
		versions[name] = v.AsString()
		if _, err := os.Stat(filepath.Join(child.Dir, "..", ".git")); err == nil {
			t.Errorf("%s: the checkout kept its .git directory", name)
		}
	}
	wantVersions := map[string]string{"bytag": "one", "bybranch": "two", "bycommit": "one", "byshort": "two", "default": "three"}
	if d := cmp.Diff(wantVersions, versions); d != "" {
		t.Errorf("loaded modules (-want +got):\n%s", d)
	}
	if _, err := os.Stat(filepath.Join(plan, ".mailplan", "modules", "bytag", "README")); err != nil {
		t.Errorf("the whole checkout is not installed: %v", err)
	}

	// A second init changes nothing.
	before, _ := os.ReadFile(filepath.Join(plan, configs.LockFileName))
	mustInstall(t, plan, false)
	after, _ := os.ReadFile(filepath.Join(plan, configs.LockFileName))
	if d := cmp.Diff(string(before), string(after)); d != "" {
		t.Errorf("lock file changed on a second init:\n%s", d)
	}
}

// TestInstallNested installs a git module that calls another git module
// and a local module, which itself calls a git module; and a local module
// of the root that calls a git module.
func TestInstallNested(t *testing.T) {
	tmp := t.TempDir()
	inner := newRepo(t, tmp, "inner")
	ci := inner.commit("inner", map[string]string{"mod/main.mp.hcl": relayModule("inner")})
	inner.tag("v1", ci)
	innerSrc := "git::" + inner.URL() + "//mod?ref=v1"
	outer := newRepo(t, tmp, "outer")
	co := outer.commit("outer", map[string]string{
		"a/main.mp.hcl":      fmt.Sprintf("module \"inner\" {\n  source = %q\n}\n\nmodule \"local\" {\n  source = \"../shared\"\n}\n", innerSrc),
		"shared/main.mp.hcl": fmt.Sprintf("module \"deep\" {\n  source = %q\n}\n", innerSrc),
	})
	plan := filepath.Join(tmp, "plan")
	writePlan(t, plan, map[string]string{
		"main.mp.hcl":      fmt.Sprintf("module \"a\" {\n  source = \"git::%s//a?ref=main\"\n}\n\nmodule \"wrap\" {\n  source = \"./wrap\"\n}\n", outer.URL()),
		"wrap/main.mp.hcl": fmt.Sprintf("module \"inner\" {\n  source = %q\n}\n", innerSrc),
	})
	lines := mustInstall(t, plan, false)
	if len(lines) != 4 {
		t.Errorf("lines: %q", lines)
	}
	want := map[string]string{"a": co, "a.inner": ci, "a.local.deep": ci, "wrap.inner": ci}
	if d := cmp.Diff(want, manifestCommits(t, plan)); d != "" {
		t.Errorf("manifest (-want +got):\n%s", d)
	}
	m := mustLoad(t, plan)
	var got []string
	var walk func(prefix string, m *configs.Module)
	walk = func(prefix string, m *configs.Module) {
		for n, c := range m.Children {
			got = append(got, prefix+n)
			walk(prefix+n+".", c)
		}
	}
	walk("", m)
	sort.Strings(got)
	if d := cmp.Diff([]string{"a", "a.inner", "a.local", "a.local.deep", "wrap", "wrap.inner"}, got); d != "" {
		t.Errorf("loaded modules (-want +got):\n%s", d)
	}
	wantDir := filepath.Join(plan, ".mailplan", "modules", "a", "shared")
	if dir := m.Children["a"].Children["local"].Dir; dir != wantDir {
		t.Errorf("a.local loaded from %s, want %s (inside the checkout of a)", dir, wantDir)
	}
}

// TestInstallMovedTag: a tag moved since the lock file was written is
// refused, the lock and the installed modules kept; -upgrade accepts it;
// a source no longer called drops out of the lock file and the modules.
func TestInstallMovedTag(t *testing.T) {
	tmp := t.TempDir()
	r := newRepo(t, tmp, "mods")
	c1 := r.commit("one", map[string]string{"relay/main.mp.hcl": relayModule("one")})
	r.tag("v1", c1)
	plan := filepath.Join(tmp, "plan")
	src := "git::" + r.URL() + "//relay?ref=v1"
	writePlan(t, plan, map[string]string{"main.mp.hcl": fmt.Sprintf("module \"relay\" {\n  source = %q\n}\n", src)})
	mustInstall(t, plan, false)
	lockName := filepath.Join(plan, configs.LockFileName)
	locked, _ := os.ReadFile(lockName)

	c2 := r.commit("two", map[string]string{"relay/main.mp.hcl": relayModule("two")})
	r.tag("v1", c2)
	_, diags := install(t, plan, false)
	checkDiag(t, diags, "Locked commit changed", hcl.Pos{Line: 2, Column: 12}, []string{c1, c2, r.URL(), `ref "v1"`, "mailplan init -upgrade"})
	if now, _ := os.ReadFile(lockName); string(now) != string(locked) {
		t.Errorf("a refused init rewrote the lock file:\n%s", now)
	}
	if got := manifestCommits(t, plan)["relay"]; got != c1 {
		t.Errorf("a refused init changed the installed module to %s", got)
	}
	mustLoad(t, plan) // the old install is still whole

	lines := mustInstall(t, plan, true)
	if !strings.Contains(strings.Join(lines, "\n"), "Upgrading") {
		t.Errorf("no upgrade line in %q", lines)
	}
	key := "git::" + r.URL() + "?ref=v1"
	if d := cmp.Diff(map[string]string{key: c2}, lockCommits(t, plan)); d != "" {
		t.Errorf("lock after -upgrade (-want +got):\n%s", d)
	}
	v, _ := mustLoad(t, plan).Children["relay"].Outputs["version"].Expr.Value(nil)
	if v.AsString() != "two" {
		t.Errorf("after -upgrade the module is version %s", v.AsString())
	}

	// Another ref: the old one drops out of the lock file.
	r.tag("v2", c2)
	writePlan(t, plan, map[string]string{"main.mp.hcl": fmt.Sprintf("module \"relay2\" {\n  source = %q\n}\n", strings.Replace(src, "v1", "v2", 1))})
	mustInstall(t, plan, false)
	if d := cmp.Diff(map[string]string{"git::" + r.URL() + "?ref=v2": c2}, lockCommits(t, plan)); d != "" {
		t.Errorf("lock after removing a source (-want +got):\n%s", d)
	}
	if _, err := os.Stat(filepath.Join(plan, ".mailplan", "modules", "relay")); err == nil {
		t.Error("the module no longer called is still installed")
	}

	// No git source left: no lock file.
	writePlan(t, plan, map[string]string{"main.mp.hcl": "locals {\n  a = 1\n}\n"})
	mustInstall(t, plan, false)
	if _, err := os.Stat(lockName); err == nil {
		t.Error("the lock file outlived the last git source")
	}
}

// TestLoadNeedsInit: after the source changes, loading without init says
// to run it, at the source argument.
func TestLoadNeedsInit(t *testing.T) {
	tmp := t.TempDir()
	r := newRepo(t, tmp, "mods")
	c1 := r.commit("one", map[string]string{"relay/main.mp.hcl": relayModule("one")})
	r.tag("v1", c1)
	r.tag("v2", c1)
	plan := filepath.Join(tmp, "plan")
	src := "git::" + r.URL() + "//relay?ref=v1"
	writePlan(t, plan, map[string]string{"main.mp.hcl": fmt.Sprintf("# relay\nmodule \"relay\" {\n  source = %q\n}\n", src)})
	_, diags := load(t, plan)
	checkDiag(t, diags, "Module not installed", hcl.Pos{Line: 3, Column: 12}, []string{`Run "mailplan init"`, src})

	mustInstall(t, plan, false)
	mustLoad(t, plan)

	writePlan(t, plan, map[string]string{"main.mp.hcl": fmt.Sprintf("# relay\nmodule \"relay\" {\n  source = %q\n}\n", strings.Replace(src, "v1", "v2", 1))})
	_, diags = load(t, plan)
	checkDiag(t, diags, "Module not installed", hcl.Pos{Line: 3, Column: 12}, []string{`Run "mailplan init"`, "source changed"})
}

// TestInstallErrors: each problem is a diagnostic at the source argument
// naming the repository and ref, and nothing is installed.
func TestInstallErrors(t *testing.T) {
	tmp := t.TempDir()
	r := newRepo(t, tmp, "mods")
	c1 := r.commit("one", map[string]string{"relay/main.mp.hcl": relayModule("one")})
	r.tag("v1", c1)
	missing := "file://" + filepath.ToSlash(filepath.Join(tmp, "missing.git"))
	for _, tc := range []struct {
		name, source, summary string
		detail                []string
	}{
		{"unknown ref", "git::" + r.URL() + "//relay?ref=v9", "Unknown git ref", []string{r.URL(), `ref "v9"`}},
		{"unknown commit", "git::" + r.URL() + "//relay?ref=0123456789abcdef0123456789abcdef01234567", "Unknown git ref", []string{r.URL(), "0123456789abcdef0123456789abcdef01234567"}},
		{"missing subdir", "git::" + r.URL() + "//nothere?ref=v1", "Module subdirectory not found", []string{r.URL(), `ref "v1"`, `"nothere"`, c1}},
		{"unreachable", "git::" + missing + "?ref=v1", "Cannot fetch module repository", []string{missing, `ref "v1"`}},
		{"no scheme", "git::relay?ref=v1", "Invalid module source", []string{"scheme"}},
		{"bad argument", "git::" + r.URL() + "?depth=1", "Invalid module source", []string{`"depth"`}},
		{"not git", "github.com/x/y", "Unsupported module source", []string{"git::URL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := filepath.Join(tmp, strings.ReplaceAll(tc.name, " ", "-"))
			writePlan(t, plan, map[string]string{"main.mp.hcl": fmt.Sprintf("module \"m\" {\n  source = %q\n}\n", tc.source)})
			_, diags := install(t, plan, false)
			checkDiag(t, diags, tc.summary, hcl.Pos{Line: 2, Column: 12}, tc.detail)
			t.Logf("%s: %s", diags[0].Summary, diags[0].Detail)
			for _, p := range []string{configs.LockFileName, ".mailplan/modules"} {
				if _, err := os.Stat(filepath.Join(plan, p)); err == nil {
					t.Errorf("%s written by a failed init", p)
				}
			}
		})
	}
}

// TestInstallRedactsCredentials: credentials in the URL reach git and
// nothing else.
func TestInstallRedactsCredentials(t *testing.T) {
	tmp := t.TempDir()
	r := newRepo(t, tmp, "mods")
	c1 := r.commit("one", map[string]string{"relay/main.mp.hcl": relayModule("one")})
	r.tag("v1", c1)
	base := serveHTTP(t, tmp)
	withCreds := strings.Replace(base, "http://", "http://alice:s3cret@", 1) + "/mods.git"
	plan := filepath.Join(tmp, "plan")
	writePlan(t, plan, map[string]string{"main.mp.hcl": fmt.Sprintf(`
module "ok" {
  source = "git::%[1]s//relay?ref=v1"
}
`, withCreds)})
	lines := mustInstall(t, plan, false)
	lock, _ := os.ReadFile(filepath.Join(plan, configs.LockFileName))
	manifest, _ := os.ReadFile(filepath.Join(plan, ".mailplan", "modules", "modules.json"))
	for what, s := range map[string]string{"lines": strings.Join(lines, "\n"), "lock file": string(lock), "manifest": string(manifest)} {
		if strings.Contains(s, "s3cret") || strings.Contains(s, "alice") {
			t.Errorf("%s holds the credentials:\n%s", what, s)
		}
		if !strings.Contains(s, "REDACTED@") {
			t.Errorf("%s does not name the redacted URL:\n%s", what, s)
		}
	}
	mustLoad(t, plan)

	for _, source := range []string{
		"git::" + withCreds + "//relay?ref=v9",
		"git::" + strings.Replace(withCreds, "mods.git", "none.git", 1) + "?ref=v1",
		"git::https://alice:s3cret@127.0.0.1:1/x.git?ref=v1",
		"git::https://s3cret@127.0.0.1:1/x.git?ref=v1",
		"git::https://alice:s3cret@127.0.0.1:1/x.git?ref=v1&x=1",
		"https://alice:s3cret@127.0.0.1:1/x.git",
	} {
		writePlan(t, plan, map[string]string{"main.mp.hcl": fmt.Sprintf("module \"bad\" {\n  source = %q\n}\n", source)})
		lines, diags := install(t, plan, false)
		if !diags.HasErrors() {
			t.Errorf("%s: no error", source)
		}
		text := strings.Join(lines, "\n")
		for _, d := range diags {
			text += "\n" + d.Summary + ": " + d.Detail
		}
		t.Log(text)
		if strings.Contains(text, "s3cret") || strings.Contains(text, "alice") {
			t.Errorf("%s: the messages hold the credentials:\n%s", source, text)
		}
		_, diags = load(t, plan)
		for _, d := range diags {
			if strings.Contains(d.Detail, "s3cret") {
				t.Errorf("%s: Load's message holds the credentials: %s", source, d.Detail)
			}
		}
	}
}

func checkDiag(t *testing.T, diags hcl.Diagnostics, summary string, at hcl.Pos, detail []string) {
	t.Helper()
	if len(diags) != 1 {
		t.Fatalf("want one diagnostic %q, got %d: %s", summary, len(diags), diags.Error())
	}
	d := diags[0]
	if d.Summary != summary {
		t.Errorf("summary %q, want %q (%s)", d.Summary, summary, d.Detail)
	}
	if d.Subject == nil || d.Subject.Start.Line != at.Line || d.Subject.Start.Column != at.Column || filepath.Base(d.Subject.Filename) != "main.mp.hcl" {
		t.Errorf("subject %v, want main.mp.hcl:%d:%d", d.Subject, at.Line, at.Column)
	}
	for _, s := range detail {
		if !strings.Contains(d.Detail, s) {
			t.Errorf("detail does not hold %q: %s", s, d.Detail)
		}
	}
}

// TestInstallErrorInFetchedModule: a problem in a fetched module's file
// names the file where it would be installed, and the loader holds it
// there for printing its source line.
func TestInstallErrorInFetchedModule(t *testing.T) {
	tmp := t.TempDir()
	r := newRepo(t, tmp, "mods")
	r.commit("bad", map[string]string{"bad/main.mp.hcl": "module \"x\" {\n  source = \"nope\"\n}\n"})
	plan := filepath.Join(tmp, "plan")
	writePlan(t, plan, map[string]string{"main.mp.hcl": fmt.Sprintf("module \"m\" {\n  source = \"git::%s//bad\"\n}\n", r.URL())})
	loader := configs.NewLoader()
	_, diags := Install(context.Background(), plan, InstallOptions{Loader: loader})
	if len(diags) != 1 || diags[0].Summary != "Unsupported module source" {
		t.Fatalf("got %v", diags)
	}
	want := filepath.Join(plan, ".mailplan", "modules", "m", "bad", "main.mp.hcl")
	if got := diags[0].Subject.Filename; got != want {
		t.Errorf("subject in %s, want %s", got, want)
	}
	if loader.Files()[want] == nil {
		t.Errorf("the loader does not hold %s", want)
	}
	if _, err := os.Stat(filepath.Join(plan, ".mailplan", "modules")); err == nil {
		t.Error("a failed init installed modules")
	}
}
