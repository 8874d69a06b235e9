package lang

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/configs"
	"github.com/mailplan/mailplan/engine/resource"
)

// fileStub is a resource type with a path, a content and a sensitive
// secret, as the engine's test file type has; nothing calls its host
// methods.
type fileStub struct{ stub }

func (fileStub) Name() string { return "fake_file" }
func (fileStub) Schema() *resource.Schema {
	return &resource.Schema{Attributes: map[string]*resource.Attribute{
		"path":    {Type: cty.String, Required: true, ForceNew: true},
		"content": {Type: cty.String, Required: true},
		"secret":  {Type: cty.String, Sensitive: true},
	}}
}

// writeFiles writes files (by slash path) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, src := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// evaluateDir loads the plan directory dir and evaluates it with in's
// options, the test types registered.
func evaluateDir(t *testing.T, dir string, in Input) (*Result, hcl.Diagnostics) {
	t.Helper()
	mod, diags := configs.NewLoader().Load(dir)
	if diags.HasErrors() {
		t.Fatalf("load: %s", diags.Error())
	}
	in.Root = mod
	in.Registry = resource.NewRegistry(stub{}, fileStub{})
	return Evaluate(in)
}

// evaluateFiles loads files into a temporary plan directory and evaluates
// it.
func evaluateFiles(t *testing.T, files map[string]string) (string, *Result, hcl.Diagnostics) {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	res, diags := evaluateDir(t, dir, Input{})
	return dir, res, diags
}

// loadFiles evaluates files with the root variables vars and fails the
// test on any error.
func loadFiles(t *testing.T, files map[string]string, vars map[string]*InputValue) *Result {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	res, diags := evaluateDir(t, dir, Input{Variables: vars})
	if diags.HasErrors() {
		t.Fatalf("diagnostics: %s", diags.Error())
	}
	return res
}

// instView is what the language tests compare of an instance.
type instView struct {
	Path    string
	Content string
	Deps    []string
}

func viewInstances(t *testing.T, res *Result) map[string]instView {
	t.Helper()
	out := map[string]instView{}
	for addr, inst := range res.Instances {
		cfg, _ := inst.Config.UnmarkDeep()
		out[addr] = instView{
			Path:    cfg.GetAttr("path").AsString(),
			Content: cfg.GetAttr("content").AsString(),
			Deps:    inst.Deps,
		}
	}
	return out
}

// ctyCmp compares cty values exactly, marks included.
var ctyCmp = cmp.Comparer(func(a, b cty.Value) bool { return a.RawEquals(b) })

func TestInstances(t *testing.T) {
	twoLevels := map[string]string{
		"main.mp.hcl": `
resource "fake_file" "root" {
  path    = "/tmp/root"
  content = "root"
}
module "m" {
  for_each  = toset(["a", "b"])
  source    = "./modules/m"
  name      = each.key
  root_path = fake_file.root.path
}
output "inner_paths" {
  value = { for k, m in module.m : k => m.inner_path }
}
`,
		"modules/m/main.mp.hcl": `
variable "name" { type = string }
variable "root_path" { type = string }
module "inner" {
  source = "../inner"
  name   = var.name
  dep    = var.root_path
}
resource "fake_file" "own" {
  path    = "/tmp/own-${var.name}"
  content = module.inner.path
}
output "inner_path" { value = module.inner.path }
`,
		"modules/inner/main.mp.hcl": `
variable "name" { type = string }
variable "dep" { type = string }
resource "fake_file" "x" {
  path    = "/tmp/inner-${var.name}"
  content = var.dep
}
output "path" { value = fake_file.x.path }
`,
	}
	tests := []struct {
		name  string
		files map[string]string
		want  map[string]instView
	}{
		{
			name: "count with count.index",
			files: map[string]string{"main.mp.hcl": `
resource "fake_file" "a" {
  count   = 2
  path    = "/tmp/a${count.index}"
  content = "n=${count.index}"
}
resource "fake_file" "b" {
  path    = "/tmp/b"
  content = join(",", fake_file.a[*].path)
}
`},
			want: map[string]instView{
				"fake_file.a[0]": {Path: "/tmp/a0", Content: "n=0", Deps: []string{}},
				"fake_file.a[1]": {Path: "/tmp/a1", Content: "n=1", Deps: []string{}},
				"fake_file.b":    {Path: "/tmp/b", Content: "/tmp/a0,/tmp/a1", Deps: []string{"fake_file.a[0]", "fake_file.a[1]"}},
			},
		},
		{
			name: "count zero",
			files: map[string]string{"main.mp.hcl": `
variable "enabled" { default = false }
resource "fake_file" "a" {
  count   = var.enabled ? 1 : 0
  path    = "/tmp/a"
  content = "x"
}
`},
			want: map[string]instView{},
		},
		{
			name: "for_each over a map",
			files: map[string]string{"main.mp.hcl": `
variable "files" {
  type    = map(string)
  default = { alpha = "one", beta = "two" }
}
resource "fake_file" "m" {
  for_each = var.files
  path     = "/tmp/${each.key}"
  content  = upper(each.value)
}
resource "fake_file" "after" {
  path    = "/tmp/after"
  content = fake_file.m["beta"].content
}
`},
			want: map[string]instView{
				`fake_file.m["alpha"]`: {Path: "/tmp/alpha", Content: "ONE", Deps: []string{}},
				`fake_file.m["beta"]`:  {Path: "/tmp/beta", Content: "TWO", Deps: []string{}},
				// A reference to one instance depends on the whole block.
				"fake_file.after": {Path: "/tmp/after", Content: "TWO", Deps: []string{`fake_file.m["alpha"]`, `fake_file.m["beta"]`}},
			},
		},
		{
			name: "for_each over a set",
			files: map[string]string{"main.mp.hcl": `
resource "fake_file" "s" {
  for_each = toset(["x", "y"])
  path     = "/tmp/${each.key}"
  content  = each.value
}
`},
			want: map[string]instView{
				`fake_file.s["x"]`: {Path: "/tmp/x", Content: "x", Deps: []string{}},
				`fake_file.s["y"]`: {Path: "/tmp/y", Content: "y", Deps: []string{}},
			},
		},
		{
			name: "for_each over empty collections",
			files: map[string]string{"main.mp.hcl": `
variable "names" { default = [] }
resource "fake_file" "set" {
  for_each = toset(var.names)
  path     = "/tmp/${each.key}"
  content  = "x"
}
resource "fake_file" "map" {
  for_each = {}
  path     = "/tmp/${each.key}"
  content  = "x"
}
resource "fake_file" "after" {
  path    = "/tmp/after"
  content = "${length(fake_file.set)}${length(fake_file.map)}"
}
`},
			want: map[string]instView{
				"fake_file.after": {Path: "/tmp/after", Content: "00", Deps: []string{}},
			},
		},
		{
			name: "depends_on",
			files: map[string]string{"main.mp.hcl": `
resource "fake_file" "a" {
  path    = "/tmp/a"
  content = "a"
}
resource "fake_file" "b" {
  count   = 2
  path    = "/tmp/b${count.index}"
  content = "b"
}
resource "fake_file" "c" {
  path       = "/tmp/c"
  content    = "c"
  depends_on = [fake_file.a, fake_file.b]
}
`},
			want: map[string]instView{
				"fake_file.a":    {Path: "/tmp/a", Content: "a", Deps: []string{}},
				"fake_file.b[0]": {Path: "/tmp/b0", Content: "b", Deps: []string{}},
				"fake_file.b[1]": {Path: "/tmp/b1", Content: "b", Deps: []string{}},
				"fake_file.c":    {Path: "/tmp/c", Content: "c", Deps: []string{"fake_file.a", "fake_file.b[0]", "fake_file.b[1]"}},
			},
		},
		{
			name: "locals chained",
			files: map[string]string{"main.mp.hcl": `
variable "domain" { default = "example.com" }
locals {
  host   = "mx.${var.domain}"
  banner = "${local.host} ESMTP"
}
locals {
  greeting = "220 ${local.banner}"
  path     = local.src
  src      = fake_file.src.path
}
resource "fake_file" "src" {
  path    = "/tmp/src"
  content = "src"
}
resource "fake_file" "a" {
  path    = "/tmp/a"
  content = "${local.greeting} from ${local.path}"
}
`},
			want: map[string]instView{
				"fake_file.src": {Path: "/tmp/src", Content: "src", Deps: []string{}},
				// A resource reached through locals is still a dependency.
				"fake_file.a": {Path: "/tmp/a", Content: "220 mx.example.com ESMTP from /tmp/src", Deps: []string{"fake_file.src"}},
			},
		},
		{
			name: "conditionals and for expressions",
			files: map[string]string{"main.mp.hcl": `
variable "domains" { default = ["example.com", "example.org"] }
locals {
  lines = [for d in var.domains : "${d} OK" if d != "example.org"]
}
resource "fake_file" "a" {
  path    = length(var.domains) > 1 ? "/tmp/many" : "/tmp/one"
  content = join("\n", local.lines)
}
`},
			want: map[string]instView{
				"fake_file.a": {Path: "/tmp/many", Content: "example.com OK", Deps: []string{}},
			},
		},
		{
			name:  "modules two levels deep with for_each",
			files: twoLevels,
			want: map[string]instView{
				"fake_file.root": {Path: "/tmp/root", Content: "root", Deps: []string{}},
				// The module input references a root resource: the inner
				// resource depends on it.
				`module.m["a"].module.inner.fake_file.x`: {Path: "/tmp/inner-a", Content: "/tmp/root", Deps: []string{"fake_file.root"}},
				`module.m["b"].module.inner.fake_file.x`: {Path: "/tmp/inner-b", Content: "/tmp/root", Deps: []string{"fake_file.root"}},
				`module.m["a"].fake_file.own`:            {Path: "/tmp/own-a", Content: "/tmp/inner-a", Deps: []string{`module.m["a"].module.inner.fake_file.x`}},
				`module.m["b"].fake_file.own`:            {Path: "/tmp/own-b", Content: "/tmp/inner-b", Deps: []string{`module.m["b"].module.inner.fake_file.x`}},
			},
		},
		{
			name: "module depends_on and depending on a module",
			files: map[string]string{
				"main.mp.hcl": `
resource "fake_file" "first" {
  path    = "/tmp/first"
  content = "1"
}
module "m" {
  count      = 2
  source     = "./m"
  suffix     = count.index
  depends_on = [fake_file.first]
}
resource "fake_file" "last" {
  path       = "/tmp/last"
  content    = "2"
  depends_on = [module.m]
}
resource "fake_file" "out" {
  path    = "/tmp/out"
  content = module.m[1].path
}
`,
				"m/main.mp.hcl": `
variable "suffix" { type = string }
resource "fake_file" "f" {
  path    = "/tmp/f${var.suffix}"
  content = "f"
}
resource "fake_file" "g" {
  path    = "/tmp/g${var.suffix}"
  content = "g"
}
output "path" { value = fake_file.f.path }
`,
			},
			want: map[string]instView{
				"fake_file.first":         {Path: "/tmp/first", Content: "1", Deps: []string{}},
				"module.m[0].fake_file.f": {Path: "/tmp/f0", Content: "f", Deps: []string{"fake_file.first"}},
				"module.m[0].fake_file.g": {Path: "/tmp/g0", Content: "g", Deps: []string{"fake_file.first"}},
				"module.m[1].fake_file.f": {Path: "/tmp/f1", Content: "f", Deps: []string{"fake_file.first"}},
				"module.m[1].fake_file.g": {Path: "/tmp/g1", Content: "g", Deps: []string{"fake_file.first"}},
				"fake_file.last":          {Path: "/tmp/last", Content: "2", Deps: []string{"module.m[0].fake_file.f", "module.m[0].fake_file.g", "module.m[1].fake_file.f", "module.m[1].fake_file.g"}},
				// An output depends on what its value depends on only.
				"fake_file.out": {Path: "/tmp/out", Content: "/tmp/f1", Deps: []string{"module.m[0].fake_file.f", "module.m[1].fake_file.f"}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := loadFiles(t, tc.files, nil)
			if diff := cmp.Diff(tc.want, viewInstances(t, res)); diff != "" {
				t.Errorf("instances (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("module outputs", func(t *testing.T) {
		res := loadFiles(t, twoLevels, nil)
		want := cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("/tmp/inner-a"), "b": cty.StringVal("/tmp/inner-b")})
		if diff := cmp.Diff(want, res.Outputs["inner_paths"].Value, ctyCmp); diff != "" {
			t.Errorf("output (-want +got):\n%s", diff)
		}
	})
}

func TestLifecycleAndHooks(t *testing.T) {
	files := map[string]string{"main.mp.hcl": `
variable "protect" { default = true }
host "old" {
  address = "203.0.113.10"
  port    = 2222
  user    = "admin"
  sudo    = true
}
host "here" {
  transport = "local"
}
resource "fake_file" "a" {
  for_each = toset(["x", "y"])
  path     = "/tmp/${each.key}"
  content  = "c"
  lifecycle {
    prevent_destroy = var.protect
    ignore_changes  = [content, secret]
  }
  hook "before_apply" {
    host    = host.old
    command = ["postfix", "check"]
  }
  hook "after_apply" {
    host    = host.here
    command = ["swaks", "--to", "probe+${each.key}@example.com"]
  }
  hook "on_rollback" {
    host    = host.old
    command = ["postfix", "flush"]
  }
}
resource "fake_file" "b" {
  path    = "/tmp/b"
  content = "c"
  lifecycle {
    ignore_changes = all
  }
}
`}
	res := loadFiles(t, files, nil)
	type view struct {
		PreventDestroy bool
		IgnoreChanges  []string
		IgnoreAll      bool
		Hooks          []Hook
	}
	old := resource.Host{Name: "old", Transport: "ssh", Address: "203.0.113.10", Port: 2222, User: "admin", KnownHosts: "~/.ssh/known_hosts", Sudo: true}
	here := resource.Host{Name: "here", Transport: "local", Port: 22, User: "root", KnownHosts: "~/.ssh/known_hosts"}
	hooks := func(key string) []Hook {
		return []Hook{
			{When: "before_apply", Host: old, Command: []string{"postfix", "check"}},
			{When: "after_apply", Host: here, Command: []string{"swaks", "--to", "probe+" + key + "@example.com"}},
			{When: "on_rollback", Host: old, Command: []string{"postfix", "flush"}},
		}
	}
	want := map[string]view{
		`fake_file.a["x"]`: {PreventDestroy: true, IgnoreChanges: []string{"content", "secret"}, Hooks: hooks("x")},
		`fake_file.a["y"]`: {PreventDestroy: true, IgnoreChanges: []string{"content", "secret"}, Hooks: hooks("y")},
		"fake_file.b":      {IgnoreAll: true},
	}
	got := map[string]view{}
	for addr, inst := range res.Instances {
		v := view{PreventDestroy: inst.PreventDestroy, IgnoreChanges: inst.IgnoreChanges, IgnoreAll: inst.IgnoreAll}
		for _, h := range inst.Hooks {
			hk := *h
			hk.DeclRange = hcl.Range{}
			v.Hooks = append(v.Hooks, hk)
		}
		got[addr] = v
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lifecycle and hooks (-want +got):\n%s", diff)
	}
	if h := res.Instances[`fake_file.a["x"]`].Hooks[0]; h.DeclRange.Start.Line != 20 {
		t.Errorf("hook declared at %s, want line 20", h.DeclRange)
	}
}

func TestOutputs(t *testing.T) {
	files := map[string]string{
		"main.mp.hcl": `
variable "password" {
  default   = "hunter2"
  sensitive = true
}
resource "fake_file" "a" {
  path    = "/tmp/a"
  content = "x"
}
module "m" {
  source = "./m"
  in     = "v"
}
output "path" {
  value       = fake_file.a.path
  description = "The file."
}
output "nested" { value = module.m.out }
output "object" { value = { n = 1, l = [true] } }
output "secret" {
  value     = var.password
  sensitive = true
}
`,
		"m/main.mp.hcl": `
variable "in" { type = string }
output "out" { value = "${var.in}-out" }
`,
	}
	res := loadFiles(t, files, nil)
	want := map[string]*OutputValue{
		"path":   {Value: cty.StringVal("/tmp/a")},
		"nested": {Value: cty.StringVal("v-out")},
		"object": {Value: cty.ObjectVal(map[string]cty.Value{"n": cty.NumberIntVal(1), "l": cty.TupleVal([]cty.Value{cty.True})})},
		"secret": {Value: cty.StringVal("hunter2").Mark(Sensitive), Sensitive: true},
	}
	if diff := cmp.Diff(want, res.Outputs, ctyCmp); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
}

func TestSensitive(t *testing.T) {
	files := map[string]string{"main.mp.hcl": `
variable "password" {
  type      = string
  sensitive = true
}
variable "user" { default = "probe" }
resource "fake_file" "a" {
  path    = "/tmp/a"
  content = "user=${var.user} password=${var.password}"
}
resource "fake_file" "b" {
  path    = "/tmp/b"
  content = var.user
  secret  = "schema-sensitive"
}
`}
	res := loadFiles(t, files, map[string]*InputValue{"password": {Value: cty.StringVal("hunter2"), Source: "-var"}})
	if diff := cmp.Diff(map[string]bool{"password": true}, res.SensitiveVariables); diff != "" {
		t.Errorf("SensitiveVariables (-want +got):\n%s", diff)
	}
	if !IsSensitive(res.Variables["password"]) || IsSensitive(res.Variables["user"]) {
		t.Errorf("variable marks: password %v, user %v", IsSensitive(res.Variables["password"]), IsSensitive(res.Variables["user"]))
	}
	tests := []struct {
		addr      string
		wantPaths []string // attributes marked sensitive
		wantClean map[string]cty.Value
	}{
		{
			addr:      "fake_file.a",
			wantPaths: []string{"content", "secret"},
			wantClean: map[string]cty.Value{"path": cty.StringVal("/tmp/a"), "content": cty.NullVal(cty.String), "secret": cty.NullVal(cty.String)},
		},
		{
			addr:      "fake_file.b",
			wantPaths: []string{"secret"},
			wantClean: map[string]cty.Value{"path": cty.StringVal("/tmp/b"), "content": cty.StringVal("probe"), "secret": cty.NullVal(cty.String)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			inst := res.Instances[tc.addr]
			if inst == nil {
				t.Fatalf("no instance %s in %v", tc.addr, res.Addrs())
			}
			clean, paths := StripSensitive(inst.Config)
			var names []string
			for _, p := range paths {
				names = append(names, p[0].(cty.GetAttrStep).Name)
			}
			sort.Strings(names)
			if diff := cmp.Diff(tc.wantPaths, names); diff != "" {
				t.Errorf("sensitive paths (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(cty.ObjectVal(tc.wantClean), clean, ctyCmp); diff != "" {
				t.Errorf("stripped (-want +got):\n%s", diff)
			}
		})
	}
	// The value is still there for the resource type to use.
	content, _ := res.Instances["fake_file.a"].Config.GetAttr("content").Unmark()
	if content.AsString() != "user=probe password=hunter2" {
		t.Errorf("content = %q", content.AsString())
	}
}

func TestFunctions(t *testing.T) {
	tests := []struct {
		name string
		expr string
		want cty.Value
	}{
		{"regex_escape", `regex_escape("example.com")`, cty.StringVal(`example\.com`)},
		{"regex_escape metacharacters", `regex_escape("a+b/c(d)?")`, cty.StringVal(`a\+b\/c\(d\)\?`)},
		{"file", `file("data/greeting.txt")`, cty.StringVal("hello\n")},
		{"file under path.module", `file("${path.module}/data/greeting.txt")`, cty.StringVal("hello\n")},
		{"templatefile", `templatefile("data/main.cf.tpl", { domain = "example.com", relays = ["a", "b"] })`, cty.StringVal("myorigin = example.com\nrelay = a\nrelay = b\n")},
		{"replace substring", `replace("a.b.c", ".", "-")`, cty.StringVal("a-b-c")},
		{"replace regex", `replace("mail1.example.com", "/^mail[0-9]+\\./", "mx.")`, cty.StringVal("mx.example.com")},
		{"replace regex group", `replace("user@example.com", "/^(.*)@(.*)$/", "$2:$1")`, cty.StringVal("example.com:user")},
		{"format", `format("%s:%d", "smtp", 25)`, cty.StringVal("smtp:25")},
		{"join", `join(", ", ["a", "b", "c"])`, cty.StringVal("a, b, c")},
		{"jsonencode", `jsonencode({ b = [1, true], a = "x" })`, cty.StringVal(`{"a":"x","b":[1,true]}`)},
		{"lookup found", `lookup({ a = "1" }, "a", "none")`, cty.StringVal("1")},
		{"lookup default", `lookup({ a = "1" }, "b", "none")`, cty.StringVal("none")},
		{"merge", `merge({ a = 1, b = 2 }, { b = 3 })`, cty.ObjectVal(map[string]cty.Value{"a": cty.NumberIntVal(1), "b": cty.NumberIntVal(3)})},
		{"try falls back", `try(local.obj.missing, "fallback")`, cty.StringVal("fallback")},
		{"try first", `try(local.obj.present, "fallback")`, cty.StringVal("here")},
		{"can true", `can(regex("^[a-z]+$", "abc"))`, cty.True},
		{"can false", `can(regex("^[a-z]+$", "ABC"))`, cty.False},
		{"length of string", `length("héllo")`, cty.NumberIntVal(5)},
		{"split and upper", `upper(split(".", "mx.example.com")[0])`, cty.StringVal("MX")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{
				"main.mp.hcl": `
locals {
  obj = { present = "here" }
}
output "r" { value = ` + tc.expr + ` }
`,
				"data/greeting.txt": "hello\n",
				"data/main.cf.tpl":  "myorigin = ${domain}\n%{ for r in relays ~}\nrelay = ${r}\n%{ endfor ~}\n",
			}
			res := loadFiles(t, files, nil)
			if diff := cmp.Diff(tc.want, res.Outputs["r"].Value, ctyCmp); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.expr, diff)
			}
		})
	}
}

// AllowUnknown (validate) checks a plan without its values: required variables without a
// value are unknown, and evaluation goes on without failing.
func TestValidateWithoutValues(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"main.mp.hcl": `
variable "dir" { type = string }
variable "names" { type = set(string) }
variable "addr" {
  type = string
  validation {
    condition     = length(var.addr) > 0
    error_message = "addr must not be empty."
  }
}
host "h" { address = var.addr }
resource "fake_file" "f" {
  for_each = var.names
  path     = "${var.dir}/${each.key}"
  content  = "x"
  hook "after_apply" {
    host    = host.h
    command = ["true", var.dir]
  }
}
resource "fake_file" "g" {
  count   = length(var.names)
  path    = "/g"
  content = fake_file.f
}
`})
	_, d := evaluateDir(t, dir, Input{AllowUnknown: true})
	// content = fake_file.f is an object, not a string: still caught.
	if !d.HasErrors() || !strings.Contains(d.Error(), "content") {
		t.Fatalf("want the type error on content, got %v", d)
	}
	writeFiles(t, dir, map[string]string{"main.mp.hcl": `
variable "dir" { type = string }
resource "fake_file" "f" {
  path    = "${var.dir}/x"
  content = "x"
}
`})
	_, d = evaluateDir(t, dir, Input{AllowUnknown: true})
	if d.HasErrors() {
		t.Fatalf("valid plan without values: %v", d)
	}
	_, d = evaluateDir(t, dir, Input{})
	if !d.HasErrors() {
		t.Fatal("plan without a required value passed")
	}
}
