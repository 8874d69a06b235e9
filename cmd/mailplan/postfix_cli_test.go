package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailplan/mailplan/resources/testbed"
)

// localOld is the host block of a plan for the test bed instance.
const localOld = "host \"old\" {\n  transport = \"local\"\n}\n"

// postfixPlanDir writes a plan for the test bed instance and returns its
// dir.
func postfixPlanDir(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "main.mp.hcl"), localOld+body)
	return dir
}

// hashMapBlock is a postfix_map named name on host.old: the hash table
// path of Postfix's configDir, with the one entry key = value, listed in
// parameter. mark ends the parameter's line ("", or a "# ERROR" mark).
func hashMapBlock(name, configDir, path, key, value, parameter, mark string) string {
	return fmt.Sprintf(`resource "postfix_map" %q {
  host       = host.old
  config_dir = %q
  path       = %q
  type       = "hash"
  entries    = [{ key = %q, value = %q }]
  parameter  = %q%s
}
`, name, configDir, path, key, value, parameter, mark)
}

// errorLine is the 1-based line holding "# ERROR" in src.
func errorLine(src string) int {
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, "# ERROR") {
			return i + 1
		}
	}
	return 0
}

// Mistakes are caught at plan time, with file:line, before the MTA is
// touched: main.cf and the table directory are left exactly as they were.
func TestPostfixPlanErrors(t *testing.T) {
	pf := testbed.Postfix(t, testbed.PostfixOptions{Name: "old", Addr: "127.0.0.2"})
	wd, _ := os.Getwd()
	t.Cleanup(func() { os.Chdir(wd) })
	table := func(typ, key, extra string) string {
		return fmt.Sprintf(`
resource "postfix_map" "m" {
  host       = host.old
  config_dir = %q
  path       = "%s/migration/m"
  type       = %q
  entries = [
    { key = %q, value = "x" }, # ERROR
  ]
  %s
}
`, pf.ConfigDir, pf.ConfigDir, typ, key, extra)
	}
	cases := []struct {
		name, body, summary string
	}{
		{"regexp key without slashes", table("regexp", "user@example.com", ""), "regexp"},
		{"whitespace in a hash key", table("hash", "a b", ""), "whitespace"},
		{"regexp Postfix rejects", table("regexp", "/(unclosed/", ""), "postmap"},
		{"parameter without tables", "\n" + hashMapBlock("m", pf.ConfigDir, pf.ConfigDir+"/migration/m", "a", "b", "myhostname", " # ERROR"), "lookup table"},
		{"config_dir without main.cf", fmt.Sprintf(`
resource "postfix_config" "c" {
  host       = host.old
  config_dir = "%s/nowhere" # ERROR
  parameters = { delay_warning_time = "4h" }
}
`, pf.ConfigDir), "main.cf"},
		{"two resources own one parameter", fmt.Sprintf(`
resource "postfix_config" "a" {
  host       = host.old
  config_dir = %q
  parameters = { delay_warning_time = "4h" }
}
resource "postfix_config" "b" {
  host       = host.old
  config_dir = %q
  parameters = { delay_warning_time = "5h" } # ERROR
}
`, pf.ConfigDir, pf.ConfigDir), "Two resources manage the same thing"},
	}
	before := snapshotDir(t, pf.ConfigDir)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := postfixPlanDir(t, c.body)
			src, _ := os.ReadFile(filepath.Join(dir, "main.mp.hcl"))
			code, out, errs := runCLI(t, dir, "plan")
			os.Chdir(wd)
			if code != 1 {
				t.Fatalf("exit %d\n%s%s", code, out, errs)
			}
			loc := fmt.Sprintf("main.mp.hcl:%d:", errorLine(string(src)))
			if !strings.Contains(errs, loc) || !strings.Contains(strings.ToLower(errs), strings.ToLower(c.summary)) {
				t.Errorf("want an error at %s mentioning %q, got:\n%s", loc, c.summary, errs)
			}
			if _, err := os.Stat(filepath.Join(dir, ".mailplan", "state.json")); err == nil {
				t.Error("a failed plan wrote a state")
			}
		})
	}
	after := snapshotDir(t, pf.ConfigDir)
	for name, b := range before {
		if after[name] != b {
			t.Errorf("%s changed during failed plans", name)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			t.Errorf("%s was created during failed plans", name)
		}
	}
}

// A parameter that a later apply starts managing is put back by destroy
// too, and main.cf ends byte-identical.
func TestPostfixConfigDestroyRestoresEveryParameter(t *testing.T) {
	pf := testbed.Postfix(t, testbed.PostfixOptions{Name: "old", Addr: "127.0.0.2"})
	wd, _ := os.Getwd()
	t.Cleanup(func() { os.Chdir(wd) })
	mainCF := filepath.Join(pf.ConfigDir, "main.cf")
	original, _ := os.ReadFile(mainCF)
	plan := func(params string) string {
		return fmt.Sprintf(`
resource "postfix_config" "c" {
  host       = host.old
  config_dir = %q
  parameters = %s
}
`, pf.ConfigDir, params)
	}
	dir := postfixPlanDir(t, plan(`{ delay_warning_time = "4h" }`))
	run := func(args ...string) {
		t.Helper()
		code, out, errs := runCLI(t, dir, args...)
		os.Chdir(wd)
		if code != 0 {
			t.Fatalf("mailplan %v: exit %d\n%s%s", args, code, out, errs)
		}
	}
	run("apply", "-auto-approve")
	write(t, filepath.Join(dir, "main.mp.hcl"), localOld+plan(`{
    delay_warning_time = "4h"
    smtpd_banner       = "$myhostname ESMTP migration test"
  }`))
	run("apply", "-auto-approve")
	if got := pf.Postconf(t, "-h", "smtpd_banner"); !strings.Contains(got, "migration test") {
		t.Fatalf("smtpd_banner = %q", got)
	}
	run("destroy", "-auto-approve")
	if b, _ := os.ReadFile(mainCF); string(b) != string(original) {
		t.Errorf("main.cf after destroy:\n%s\nwant:\n%s", b, original)
	}
}

// A postfix_config that sets a parameter a postfix_map adds itself to is a
// conflict; two maps sharing a parameter are not.
func TestPostfixParameterClaims(t *testing.T) {
	wd, _ := os.Getwd()
	t.Cleanup(func() { os.Chdir(wd) })
	maps := "\n" + hashMapBlock("a", "/srv/postfix", "/srv/postfix/a", "a", "b", "transport_maps", "") +
		hashMapBlock("b", "/srv/postfix", "/srv/postfix/b", "a", "b", "transport_maps", "")
	dir := postfixPlanDir(t, maps)
	if code, out, errs := runCLI(t, dir, "validate"); code != 0 {
		t.Errorf("two maps sharing a parameter: exit %d\n%s%s", code, out, errs)
	}
	os.Chdir(wd)
	dir = postfixPlanDir(t, maps+`
resource "postfix_config" "c" {
  host       = host.old
  config_dir = "/srv/postfix"
  parameters = { transport_maps = "hash:/srv/postfix/other" } # ERROR
}
`)
	src, _ := os.ReadFile(filepath.Join(dir, "main.mp.hcl"))
	code, out, errs := runCLI(t, dir, "validate")
	os.Chdir(wd)
	loc := fmt.Sprintf("main.mp.hcl:%d:", errorLine(string(src)))
	if code != 1 || !strings.Contains(errs, "Two resources manage the same thing") || !strings.Contains(errs, loc) {
		t.Errorf("exit %d, want the conflict at %s:\n%s%s", code, loc, out, errs)
	}
}
