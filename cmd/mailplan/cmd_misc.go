package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/rogpeppe/go-internal/diff"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/mailplan/mailplan/engine"
	"github.com/mailplan/mailplan/engine/addrs"
	"github.com/mailplan/mailplan/engine/configs"
	"github.com/mailplan/mailplan/engine/exec"
	"github.com/mailplan/mailplan/engine/plans"
	"github.com/mailplan/mailplan/engine/render"
	"github.com/mailplan/mailplan/engine/states"
)

func cmdVersion(c *cli, args []string) int {
	fmt.Fprintf(c.stdout, "mailplan v%s\n", engine.Version)
	return 0
}

func cmdValidate(c *cli, args []string) int {
	fs := newFlagSet(c, "validate")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	var vars []engine.VarArg
	fs.Var(varFlags{list: &vars}, "var", "set a variable")
	fs.Var(varFlags{list: &vars, file: true}, "var-file", "read variables from a file")
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	e, done := c.newEngine()
	defer done()
	s, diags := e.Load(engine.Options{Dir: ".", Vars: vars, ValidateOnly: true})
	if *asJSON {
		out := validateJSON(diags)
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Fprintln(c.stdout, string(b))
		if diags.HasErrors() {
			return 1
		}
		return 0
	}
	if c.diags(diags, s.Files()) {
		return 1
	}
	fmt.Fprintln(c.stdout, "Success! The plan is valid.")
	return 0
}

func validateJSON(diags hcl.Diagnostics) map[string]any {
	type pos struct {
		Line   int `json:"line"`
		Column int `json:"column"`
		Byte   int `json:"byte"`
	}
	type rng struct {
		Filename string `json:"filename"`
		Start    pos    `json:"start"`
		End      pos    `json:"end"`
	}
	type diag struct {
		Severity string `json:"severity"`
		Summary  string `json:"summary"`
		Detail   string `json:"detail,omitempty"`
		Range    *rng   `json:"range,omitempty"`
	}
	var list []diag
	errs, warns := 0, 0
	for _, d := range diags {
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
			warns++
		} else {
			errs++
		}
		dd := diag{Severity: sev, Summary: d.Summary, Detail: d.Detail}
		if d.Subject != nil {
			dd.Range = &rng{Filename: d.Subject.Filename,
				Start: pos{d.Subject.Start.Line, d.Subject.Start.Column, d.Subject.Start.Byte},
				End:   pos{d.Subject.End.Line, d.Subject.End.Column, d.Subject.End.Byte}}
		}
		list = append(list, dd)
	}
	if list == nil {
		list = []diag{}
	}
	return map[string]any{"format_version": "1.0", "valid": errs == 0, "error_count": errs, "warning_count": warns, "diagnostics": list}
}

func cmdFmt(c *cli, args []string) int {
	fs := newFlagSet(c, "fmt")
	check := fs.Bool("check", false, "exit 3 when a file is not formatted; change nothing")
	showDiff := fs.Bool("diff", false, "print the changes")
	recursive := fs.Bool("recursive", false, "also format subdirectories")
	write := fs.Bool("write", true, "write the formatted files")
	list := fs.Bool("list", true, "list the files that change")
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{"."}
	}
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			c.errorf("Cannot read path", "%s", err)
			return 1
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != p && (!*recursive || strings.HasPrefix(d.Name(), ".")) {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(d.Name(), configs.FileSuffix) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			c.errorf("Cannot read directory", "%s", err)
			return 1
		}
	}
	sort.Strings(files)
	changed := false
	var allDiags hcl.Diagnostics
	fileMap := map[string]*hcl.File{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			c.errorf("Cannot read file", "%s", err)
			return 1
		}
		out, diags := configs.Format(f, src)
		if diags.HasErrors() {
			allDiags = append(allDiags, diags...)
			fileMap[f] = &hcl.File{Bytes: src}
			continue
		}
		if bytes.Equal(src, out) {
			continue
		}
		changed = true
		if *list {
			fmt.Fprintln(c.stdout, f)
		}
		if *showDiff {
			c.stdout.Write(diff.Diff("old/"+f, src, "new/"+f, out))
		}
		if *write && !*check {
			st, _ := os.Stat(f)
			if err := writeFileAtomic(f, out, st.Mode().Perm()); err != nil {
				c.errorf("Cannot write file", "%s", err)
				return 1
			}
		}
	}
	if c.diags(allDiags, fileMap) {
		return 1
	}
	if *check && changed {
		return 3
	}
	return 0
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func cmdGraph(c *cli, args []string) int {
	fs := newFlagSet(c, "graph")
	typ := fs.String("type", "plan", "plan, apply or rollback")
	var vars []engine.VarArg
	fs.Var(varFlags{list: &vars}, "var", "set a variable")
	fs.Var(varFlags{list: &vars, file: true}, "var-file", "read variables from a file")
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	if *typ != "plan" && *typ != "apply" && *typ != "rollback" {
		c.errorf("Invalid graph type", "-type must be plan, apply or rollback, not %q.", *typ)
		return 1
	}
	e, done := c.newEngine()
	defer done()
	s, diags := e.Load(engine.Options{Dir: ".", Vars: vars, ValidateOnly: true})
	if c.diags(diags, s.Files()) {
		return 1
	}
	edges := map[string][]string{}
	var nodes []string
	for _, addr := range s.Config.Addrs() {
		nodes = append(nodes, addr)
		for _, d := range s.Config.Instances[addr].Deps {
			if *typ == "rollback" {
				edges[d] = append(edges[d], addr)
			} else {
				edges[addr] = append(edges[addr], d)
			}
		}
	}
	render.DOT(c.stdout, nodes, edges)
	return 0
}

func cmdShow(c *cli, args []string) int {
	fs := newFlagSet(c, "show")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	if fs.NArg() == 1 {
		f, err := plans.ReadFile(fs.Arg(0))
		if err != nil {
			c.errorf("Cannot read the saved plan", "%s", err)
			return 1
		}
		if *asJSON {
			fmt.Fprintln(c.stdout, string(f.JSON))
		} else {
			fmt.Fprint(c.stdout, f.Text)
		}
		return 0
	}
	e, done := c.newEngine()
	defer done()
	s, diags := e.OpenState(c.ctx, engine.Options{Dir: "."}, false)
	if c.diags(diags, nil) {
		return 1
	}
	st := s.State
	if *asJSON {
		b, _ := json.MarshalIndent(stateJSON(st), "", "  ")
		fmt.Fprintln(c.stdout, string(b))
		return 0
	}
	if len(st.Resources) == 0 {
		fmt.Fprintln(c.stdout, "The state is empty: mailplan manages nothing here yet.")
		return 0
	}
	for _, addr := range sortedAddrs(st) {
		printResource(c, st.Resources[addr])
	}
	return 0
}

func cmdOutput(c *cli, args []string) int {
	fs := newFlagSet(c, "output")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	e, done := c.newEngine()
	defer done()
	s, diags := e.OpenState(c.ctx, engine.Options{Dir: "."}, false)
	if c.diags(diags, nil) {
		return 1
	}
	outs := s.State.Outputs
	show := func(name string) (string, bool) {
		o, ok := outs[name]
		if !ok {
			return "", false
		}
		if o.Sensitive {
			return "(sensitive value)", true
		}
		v, err := exec.OutputValue(o)
		if err != nil {
			return "", false
		}
		if *asJSON {
			b, _ := ctyjson.Marshal(v, v.Type())
			return string(b), true
		}
		if v.Type() == cty.String {
			return v.AsString(), true
		}
		b, _ := ctyjson.Marshal(v, v.Type())
		return string(b), true
	}
	if fs.NArg() == 1 {
		if o, ok := outs[fs.Arg(0)]; ok && o.Sensitive && *asJSON {
			c.errorf("Sensitive output", "The output %q is sensitive, so its value is not kept in the state (mailplan never stores secrets); read it from its source.", fs.Arg(0))
			return 1
		}
		v, ok := show(fs.Arg(0))
		if !ok {
			c.errorf("Output not found", "The state has no output %q. Apply the plan that declares it first.", fs.Arg(0))
			return 1
		}
		fmt.Fprintln(c.stdout, v)
		return 0
	}
	names := make([]string, 0, len(outs))
	for n := range outs {
		names = append(names, n)
	}
	sort.Strings(names)
	if *asJSON {
		m := map[string]any{}
		for _, n := range names {
			o := outs[n]
			entry := map[string]any{"sensitive": o.Sensitive}
			if !o.Sensitive {
				entry["value"] = json.RawMessage(o.Value)
				entry["type"] = json.RawMessage(o.Type)
			}
			m[n] = entry
		}
		b, _ := json.MarshalIndent(m, "", "  ")
		fmt.Fprintln(c.stdout, string(b))
		return 0
	}
	for _, n := range names {
		v, _ := show(n)
		if !outs[n].Sensitive && !strings.HasPrefix(v, "{") && !strings.HasPrefix(v, "[") {
			v = fmt.Sprintf("%q", v)
		}
		fmt.Fprintf(c.stdout, "%s = %s\n", n, v)
	}
	return 0
}

// stateJSON is the state in the shape of `terraform show -json`: values of
// the root module and of each module instance, sensitive ones left out.
func stateJSON(st *states.State) map[string]any {
	type module struct {
		Address   string           `json:"address,omitempty"`
		Resources []map[string]any `json:"resources"`
	}
	mods := map[string]*module{}
	for _, addr := range sortedAddrs(st) {
		r := st.Resources[addr]
		ri, diags := addrs.ParseResourceInstance(addr)
		if diags.HasErrors() {
			continue
		}
		var values map[string]json.RawMessage
		_ = json.Unmarshal(r.Result, &values)
		sens := map[string]bool{}
		for _, p := range r.Sensitive {
			sens[p] = true
			delete(values, p)
		}
		entry := map[string]any{
			"address":          addr,
			"mode":             "managed",
			"type":             ri.Resource.Type,
			"name":             ri.Resource.Name,
			"values":           values,
			"sensitive_values": sens,
		}
		if r.Wait != nil {
			// mailplan's own: a step an apply left waiting (as `show` prints it).
			entry["mailplan_waiting"] = map[string]any{"until": r.Wait.Until.UTC().Format(time.RFC3339), "reason": r.Wait.Reason}
		}
		switch k := ri.Key.(type) {
		case addrs.IntKey:
			entry["index"] = int(k)
		case addrs.StringKey:
			entry["index"] = string(k)
		}
		ma := ri.Module.String()
		if mods[ma] == nil {
			mods[ma] = &module{Address: ma, Resources: []map[string]any{}}
		}
		mods[ma].Resources = append(mods[ma].Resources, entry)
	}
	root := mods[""]
	if root == nil {
		root = &module{Resources: []map[string]any{}}
	}
	var children []*module
	for a, m := range mods {
		if a != "" {
			children = append(children, m)
		}
	}
	sort.Slice(children, func(i, j int) bool { return children[i].Address < children[j].Address })
	rootMap := map[string]any{"resources": root.Resources}
	if len(children) > 0 {
		rootMap["child_modules"] = children
	}
	outs := map[string]any{}
	for name, o := range st.Outputs {
		e := map[string]any{"sensitive": o.Sensitive}
		if !o.Sensitive && len(o.Value) > 0 {
			e["value"] = json.RawMessage(o.Value)
			e["type"] = json.RawMessage(o.Type)
		}
		outs[name] = e
	}
	return map[string]any{
		"format_version": "1.0",
		"values":         map[string]any{"outputs": outs, "root_module": rootMap},
	}
}
