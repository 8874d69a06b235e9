package render

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/plans"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// secret is the value every sensitive attribute in the test plans holds;
// it must never appear in any output.
const secret = "hunter2-do-not-print"

func host(name string) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"name":          cty.StringVal(name),
		"transport":     cty.StringVal("ssh"),
		"address":       cty.StringVal("203.0.113.10"),
		"port":          cty.NumberIntVal(22),
		"user":          cty.StringVal("root"),
		"identity_file": cty.NullVal(cty.String),
		"known_hosts":   cty.StringVal("~/.ssh/known_hosts"),
		"sudo":          cty.False,
	})
}

var fileType = cty.Object(map[string]cty.Type{
	"host":    host("x").Type(),
	"path":    cty.String,
	"content": cty.String,
	"mode":    cty.String,
	"owner":   cty.String,
})

func file(h, path, content, mode string) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"host":    host(h),
		"path":    cty.StringVal(path),
		"content": cty.StringVal(content),
		"mode":    cty.StringVal(mode),
		"owner":   cty.NullVal(cty.String),
	})
}

func with(obj cty.Value, name string, v cty.Value) cty.Value {
	m := obj.AsValueMap()
	m[name] = v
	return cty.ObjectVal(m)
}

var entryType = cty.Object(map[string]cty.Type{"key": cty.String, "value": cty.String})

func entries(kv ...string) cty.Value {
	var out []cty.Value
	for i := 0; i < len(kv); i += 2 {
		out = append(out, cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(kv[i]), "value": cty.StringVal(kv[i+1])}))
	}
	if len(out) == 0 {
		return cty.ListValEmpty(entryType)
	}
	return cty.ListVal(out)
}

// records is a dns_record whose rdata named "b" and "d" are secret.
func records(rdata ...string) cty.Value {
	var rs []cty.Value
	for _, r := range rdata {
		v := cty.StringVal(r)
		if r == "b" || r == "d" {
			v = cty.StringVal(secret + r).Mark(sensitive)
		}
		rs = append(rs, v)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"zone":    cty.StringVal("example.com."),
		"type":    cty.StringVal("TLSA"),
		"records": cty.ListVal(rs),
	})
}

func postfixMap(typ string, e cty.Value, param cty.Value) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"host":       host("new"),
		"path":       cty.StringVal("/etc/postfix/migration/transport_map"),
		"type":       cty.StringVal(typ),
		"entries":    e,
		"content":    cty.NullVal(cty.String),
		"parameter":  param,
		"position":   cty.StringVal("first"),
		"config_dir": cty.StringVal("/etc/postfix"),
		"reload":     cty.True,
	})
}

func mx(ttl int64, exchanges ...string) cty.Value {
	var ex []cty.Value
	for i, h := range exchanges {
		ex = append(ex, cty.ObjectVal(map[string]cty.Value{
			"preference": cty.NumberIntVal(int64(10 * (i + 1))),
			"host":       cty.StringVal(h),
		}))
	}
	return cty.ObjectVal(map[string]cty.Value{
		"zone":      cty.StringVal("example.com."),
		"name":      cty.StringVal("example.com."),
		"ttl":       cty.NumberIntVal(ttl),
		"exchanges": cty.ListVal(ex),
	})
}

var aliasesV1 = "# /etc/aliases\nmailer-daemon: postmaster\npostmaster: root\nnobody: root\nhostmaster: root\nusenet: root\nnews: root\nwebmaster: root\nwww: root\nftp: root\nabuse: root\nroot: admin\n"
var aliasesV2 = strings.Replace(strings.Replace(aliasesV1, "www: root\n", "", 1), "root: admin\n", "root: admin, ops\nsecurity: admin\n", 1)

var when = time.Date(2025, 6, 1, 14, 30, 0, 0, time.UTC)

func change(addr string, a plans.Action, before, after cty.Value) *plans.Change {
	c := &plans.Change{Addr: addr, Action: a, Before: before, After: after}
	rest := addr
	if strings.HasPrefix(addr, "module.") {
		i := strings.LastIndex(addr, "].")
		if i < 0 {
			i = strings.Index(addr[len("module."):], ".") + len("module.")
		} else {
			i++
		}
		c.Module, rest = addr[:i], addr[i+1:]
	}
	typ, name, _ := strings.Cut(rest, ".")
	if i := strings.Index(name, "["); i >= 0 {
		name, c.Key = name[:i], name[i:]
	}
	c.Type, c.Name = typ, name
	c.ShowUnchanged = showUnchanged[typ]
	return c
}

// showUnchanged are the attributes the types' schemas mark ShowUnchanged.
var showUnchanged = map[string][]string{
	"file":        {"path"},
	"postfix_map": {"path"},
	"dns_record":  {"name", "zone"},
	"mx_record":   {"name", "zone"},
}

func null() cty.Value { return cty.NullVal(fileType) }

// planCases are the plans rendered by both PlanText and PlanJSON.
func planCases() []struct {
	name string
	plan *plans.Plan
} {
	motd := file("old", "/etc/motd", "old", "0644")
	replaceY := change(`module.m["x"].file.y`, plans.Replace, file("old", "/a", "x", "0644"), file("old", "/b", "x", "0644"))
	replaceY.ReplacePaths = []string{"path"}
	replaceY.Reason = "path changed"
	destroyZ := change("file.z", plans.Delete, file("old", "/x", "z\nzz\n", "0600"), null())
	destroyZ.Reason = "not in the configuration"

	secretFile := with(file("new", "/etc/postfix/sasl_passwd", "", "0600"), "content", cty.StringVal(secret).Mark(sensitive))
	secretFile2 := with(secretFile, "content", cty.StringVal(secret+"-rotated").Mark(sensitive))
	secretUnchanged := with(secretFile, "mode", cty.StringVal("0400"))

	copyBefore := cty.ObjectVal(map[string]cty.Value{
		"source":      host("old"),
		"destination": host("new"),
		"mailboxes":   cty.ListVal([]cty.Value{cty.StringVal("alice"), cty.StringVal("bob")}),
		"password":    cty.StringVal(secret).Mark(sensitive),
	})
	copyChange := change("mailbox_copy.users", plans.Update, copyBefore, copyBefore)
	copyChange.Summary = "copy 1,204 messages (83 MiB) from host.old to host.new"
	copyChange.Pending = "final sync after mx_record.main has switched"

	pendingOnly := change("mx_record.main", plans.NoOp, mx(300, "mx.new.example.net."), mx(300, "mx.new.example.net."))
	pendingOnly.Pending = "raise TTL back to 3600 after 2025-06-01T15:30:00Z"

	resume := change("mx_record.main", plans.Resume, mx(300, "mx.old.example.net."), mx(300, "mx.new.example.net."))
	resume.Summary = "switch exchanges now that the old TTL has expired"

	waiting := []*plans.Waiting{
		{Addr: "dns_record.spf", Until: when.Add(30 * time.Minute), Reason: "old TTL 3600s expires"},
		{Addr: "mx_record.backup", Until: when, Reason: "old TTL 1800s expires"},
	}

	params := func(kv ...string) cty.Value {
		m := map[string]cty.Value{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = cty.StringVal(kv[i+1])
			if strings.Contains(kv[i+1], secret) {
				m[kv[i]] = m[kv[i]].Mark(sensitive)
			}
		}
		return cty.ObjectVal(map[string]cty.Value{
			"host":       host("new"),
			"config_dir": cty.StringVal("/etc/postfix"),
			"reload":     cty.True,
			"parameters": cty.MapVal(m),
		})
	}

	return []struct {
		name string
		plan *plans.Plan
	}{
		{"create", &plans.Plan{Changes: []*plans.Change{
			change("file.aliases", plans.Create, null(), file("new", "/etc/aliases", "root: admin\n", "0644")),
			change("file.mailname", plans.Create, null(), file("new", "/etc/mailname", "mail.example.com", "0644")),
		}}},
		{"update_single_line", &plans.Plan{Changes: []*plans.Change{
			change("file.motd", plans.Update, motd, with(motd, "content", cty.StringVal("new"))),
		}}},
		{"update_multi_line", &plans.Plan{Changes: []*plans.Change{
			change("file.aliases", plans.Update, file("new", "/etc/aliases", aliasesV1, "0644"), file("new", "/etc/aliases", aliasesV2, "0640")),
			change("file.banner", plans.Update, file("new", "/etc/banner", "one line", "0644"), file("new", "/etc/banner", "one line\nand another\n", "0644")),
		}}},
		{"update_host", &plans.Plan{Changes: []*plans.Change{
			change("file.motd", plans.Update, motd, with(motd, "host", host("new"))),
		}}},
		{"replace", &plans.Plan{Changes: []*plans.Change{replaceY}}},
		{"destroy_with_reason", &plans.Plan{Changes: []*plans.Change{destroyZ}}},
		{"no_changes", &plans.Plan{Changes: []*plans.Change{
			change("file.motd", plans.NoOp, motd, motd),
		}}},
		{"no_changes_pending_and_waiting", &plans.Plan{
			Changes: []*plans.Change{pendingOnly},
			Waiting: waiting,
		}},
		{"sensitive", &plans.Plan{Changes: []*plans.Change{
			change("file.sasl_passwd", plans.Create, null(), secretFile),
			change("file.sasl_rotated", plans.Update, secretFile, secretFile2),
			change("file.sasl_mode", plans.Update, secretFile, secretUnchanged),
			change("file.sasl_gone", plans.Delete, secretFile, null()),
			change("postfix_config.sasl", plans.Update,
				params("smtp_sasl_auth_enable", "no", "smtp_sasl_password", "old-"+secret),
				params("smtp_sasl_auth_enable", "yes", "smtp_sasl_password", secret+"-new")),
			change("dns_record.tlsa", plans.Update, records("a", "b", "c"), records("a", "c", "d")),
		}}},
		{"summary_and_pending", &plans.Plan{Changes: []*plans.Change{copyChange, pendingOnly}}},
		{"waiting_and_resume", &plans.Plan{
			Changes: []*plans.Change{resume},
			Waiting: waiting,
		}},
		{"nested", &plans.Plan{Changes: []*plans.Change{
			change("postfix_map.transport", plans.Create, cty.NullVal(postfixMap("hash", entries(), cty.NullVal(cty.String)).Type()),
				postfixMap("hash", entries("example.com", "smtp:[mx.new.example.net]", "example.org", "smtp:[mx.new.example.net]"), cty.StringVal("transport_maps"))),
			change("postfix_map.bcc", plans.Update,
				postfixMap("regexp", entries("/^a@/", "archive@", "/^b@/", "archive@", "/^c@/", "archive@", "/^d@/", "archive@", "/^e@/", "archive@", "/^f@/", "archive@"), cty.StringVal("recipient_bcc_maps")),
				postfixMap("regexp", entries("/^a@/", "archive@", "/^b@/", "archive@", "/^c@/", "archive@", "/^d@/", "archive2@", "/^e@/", "archive@", "/^f@/", "archive@", "/^g@/", "archive@"), cty.StringVal("recipient_bcc_maps"))),
			change("postfix_config.main", plans.Update,
				params("relayhost", "", "smtp_tls_security_level", "may", "myhostname", "mail.example.com"),
				params("relayhost", "[mx.new.example.net]:25", "smtp_tls_security_level", "encrypt", "myhostname", "mail.example.com", "inet_protocols", "ipv4")),
			change("mx_record.main", plans.Update, mx(3600, "mx.old.example.net."), with(mx(300, "mx.new.example.net.", "mx.old.example.net."), "ttl", cty.UnknownVal(cty.Number))),
			change("dns_record.spf[0]", plans.Delete, cty.ObjectVal(map[string]cty.Value{
				"zone":    cty.StringVal("example.com."),
				"type":    cty.StringVal("TXT"),
				"records": cty.ListVal([]cty.Value{cty.StringVal(`"v=spf1 mx -all"`)}),
				"tags":    cty.MapVal(map[string]cty.Value{"owner": cty.StringVal("ops")}),
			}), cty.NullVal(cty.DynamicPseudoType)),
		}}},
		{"outputs", &plans.Plan{
			Changes: []*plans.Change{
				change("file.aliases", plans.Create, null(), file("new", "/etc/aliases", "root: admin\n", "0644")),
			},
			Outputs: map[string]*plans.OutputChange{
				"new_mx":    {Action: plans.Create, Before: cty.NullVal(cty.String), After: cty.StringVal("mx.new.example.net.")},
				"old_mx":    {Action: plans.Delete, Before: cty.StringVal("mx.old.example.net."), After: cty.NullVal(cty.String)},
				"ttl":       {Action: plans.Update, Before: cty.NumberIntVal(3600), After: cty.NumberIntVal(300)},
				"hosts":     {Action: plans.Update, Before: cty.ListVal([]cty.Value{cty.StringVal("old")}), After: cty.ListVal([]cty.Value{cty.StringVal("old"), cty.StringVal("new")})},
				"db_secret": {Action: plans.Create, Before: cty.NullVal(cty.String), After: cty.StringVal(secret), Sensitive: true},
				"unchanged": {Action: plans.NoOp, Before: cty.True, After: cty.True},
			},
		}},
		{"outputs_only", &plans.Plan{
			Outputs: map[string]*plans.OutputChange{
				"new_mx": {Action: plans.Create, Before: cty.NullVal(cty.String), After: cty.StringVal("mx.new.example.net.")},
			},
		}},
		{"example", &plans.Plan{Changes: []*plans.Change{
			destroyZ,
			change("file.motd", plans.Update, motd, with(motd, "content", cty.StringVal("new"))),
			replaceY,
			change("file.aliases", plans.Create, null(), file("new", "/etc/aliases", "root: admin\n", "0644")),
			change("file.x[10]", plans.Create, null(), file("new", "/x10", "", "0644")),
			change("file.x[2]", plans.Create, null(), file("new", "/x2", "", "0644")),
		}}},
	}
}

func TestPlanText(t *testing.T) {
	for _, tc := range planCases() {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := PlanText(&buf, tc.plan, TextOptions{}); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(buf.String(), secret) {
				t.Errorf("output shows a sensitive value:\n%s", buf.String())
			}
			if strings.Contains(buf.String(), "\x1b[") {
				t.Errorf("output without Color has escape sequences")
			}
			golden(t, "plan_"+tc.name+".golden", buf.Bytes())
		})
	}
}

func TestPlanTextColor(t *testing.T) {
	for _, tc := range planCases() {
		if tc.name != "example" {
			continue
		}
		var buf bytes.Buffer
		if err := PlanText(&buf, tc.plan, TextOptions{Color: true}); err != nil {
			t.Fatal(err)
		}
		golden(t, "plan_example_color.golden", buf.Bytes())
	}
}

func TestPlanJSON(t *testing.T) {
	for _, tc := range planCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PlanJSON(tc.plan)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(got), secret) {
				t.Errorf("JSON shows a sensitive value:\n%s", got)
			}
			var doc map[string]any
			if err := json.Unmarshal(got, &doc); err != nil {
				t.Fatalf("invalid JSON: %v", err)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, got, "", "  "); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			golden(t, "plan_"+tc.name+".json.golden", pretty.Bytes())
		})
	}
}

// TestPlanJSONShape checks the fields consumers of `terraform show -json`
// rely on, independently of the golden files.
func TestPlanJSONShape(t *testing.T) {
	before := file("old", "/a", "x", "0644")
	after := with(file("old", "/b", "x", "0644"), "content", cty.StringVal(secret).Mark(sensitive))
	p := &plans.Plan{
		Changes: []*plans.Change{
			change(`module.m["x"].file.y["k"]`, plans.Replace, before, after),
			change("file.n[3]", plans.Delete, before, null()),
			change("file.r", plans.Resume, before, before),
		},
		Outputs: map[string]*plans.OutputChange{
			"pw": {Action: plans.Update, Before: cty.StringVal("a"), After: cty.StringVal(secret), Sensitive: true},
		},
	}
	got, err := PlanJSON(p)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		FormatVersion   string `json:"format_version"`
		ResourceChanges []struct {
			Address       string  `json:"address"`
			ModuleAddress *string `json:"module_address"`
			Mode          string  `json:"mode"`
			Type          string  `json:"type"`
			Name          string  `json:"name"`
			Index         any     `json:"index"`
			Change        struct {
				Actions         []string       `json:"actions"`
				After           map[string]any `json:"after"`
				BeforeSensitive any            `json:"before_sensitive"`
				AfterSensitive  any            `json:"after_sensitive"`
			} `json:"change"`
		} `json:"resource_changes"`
		OutputChanges map[string]struct {
			Actions         []string `json:"actions"`
			Before          any      `json:"before"`
			After           any      `json:"after"`
			BeforeSensitive any      `json:"before_sensitive"`
			AfterSensitive  any      `json:"after_sensitive"`
		} `json:"output_changes"`
		Waiting any `json:"mailplan_waiting"`
	}
	if err := json.Unmarshal(got, &doc); err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	type rc struct {
		Address, Mode, Type, Name string
		Module                    *string
		Index                     any
		Actions                   []string
		BeforeSensitive           any
		AfterSensitive            any
	}
	var rcs []rc
	for _, r := range doc.ResourceChanges {
		rcs = append(rcs, rc{r.Address, r.Mode, r.Type, r.Name, r.ModuleAddress, r.Index, r.Change.Actions, r.Change.BeforeSensitive, r.Change.AfterSensitive})
	}
	// As Terraform does, nested objects without secrets stay as {}.
	noSecrets := map[string]any{"host": map[string]any{}}
	want := []rc{
		{"file.n[3]", "managed", "file", "n", nil, float64(3), []string{"delete"}, noSecrets, false},
		{"file.r", "managed", "file", "r", nil, nil, []string{"update"}, noSecrets, noSecrets},
		{`module.m["x"].file.y["k"]`, "managed", "file", "y", str(`module.m["x"]`), "k", []string{"delete", "create"}, noSecrets, map[string]any{"content": true, "host": map[string]any{}}},
	}
	if diff := cmp.Diff(want, rcs); diff != "" {
		t.Errorf("resource_changes (-want +got):\n%s", diff)
	}
	if doc.FormatVersion != "1.0" {
		t.Errorf("format_version = %q", doc.FormatVersion)
	}
	if c := doc.ResourceChanges[2].Change.After["content"]; c != nil {
		t.Errorf("after.content = %v, want null", c)
	}
	pw := doc.OutputChanges["pw"]
	if pw.Before != nil || pw.After != nil || pw.BeforeSensitive != true || pw.AfterSensitive != true {
		t.Errorf("sensitive output = %+v, want null values and true *_sensitive", pw)
	}
	if doc.Waiting != nil {
		t.Errorf("mailplan_waiting = %v without waiting resources", doc.Waiting)
	}
}

func TestApplySummaries(t *testing.T) {
	tests := []struct {
		name  string
		write func(*bytes.Buffer) error
		want  string
	}{
		{"apply", func(b *bytes.Buffer) error { return ApplyComplete(b, 2, 1, 0) }, "Apply complete! Resources: 2 added, 1 changed, 0 destroyed.\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tc.write(&buf); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, buf.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// An unchanged attribute is shown in an update only when its schema marks
// it ShowUnchanged: the renderer names no attribute itself.
func TestShowUnchangedFromSchema(t *testing.T) {
	before := file("new", "/etc/motd", "old", "0644")
	after := with(before, "content", cty.StringVal("new"))
	for _, shown := range []bool{true, false} {
		c := change("file.motd", plans.Update, before, after)
		if !shown {
			c.ShowUnchanged = nil
		}
		var out strings.Builder
		if err := PlanText(&out, &plans.Plan{Changes: []*plans.Change{c}}, TextOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(out.String(), `path    = "/etc/motd"`) || strings.Contains(out.String(), `path = "/etc/motd"`); got != shown {
			t.Errorf("ShowUnchanged %v: path shown %v\n%s", shown, got, out.String())
		}
	}
}
