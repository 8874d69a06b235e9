package command

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport"
)

// Hosts gives the connection to a host; *pool.Pool is one.
type Hosts = transport.Getter

// Command is the `command` resource type.
type Command struct {
	hosts Hosts
}

var (
	_ resource.Type      = (*Command)(nil)
	_ resource.Validator = (*Command)(nil)
	_ resource.StateKept = (*Command)(nil)
	_ resource.Confirmer = (*Command)(nil)
)

// New returns the command type, reaching hosts through hosts.
func New(hosts Hosts) *Command { return &Command{hosts: hosts} }

// DefaultTimeout bounds each run of command, undo and check when the
// configuration sets no timeout.
const DefaultTimeout = "10m"

var schema = &resource.Schema{Attributes: map[string]*resource.Attribute{
	"host": {Type: resource.HostType, Kind: resource.HostRef, Required: true, ForceNew: true, Identity: true,
		Description: "The host the command runs on."},
	"command": {Type: cty.List(cty.String), Required: true, ForceNew: true, ShowUnchanged: true,
		Description: "The program and its arguments, run once at create; never through a shell."},
	"undo": {Type: cty.List(cty.String),
		Description: "The program and arguments that take the command back, run at destroy and rollback after it ran; idempotent."},
	"check": {Type: cty.List(cty.String),
		Description: "The program and arguments whose exit status 0 means the command's work is done already (nothing is planned)."},
	"environment": {Type: cty.Map(cty.String),
		Description: "Environment variables added for command, undo and check."},
	"timeout": {Type: cty.String, Default: cty.StringVal(DefaultTimeout),
		Description: "How long each run of command, undo or check may take: a Go duration."},
	"confirm": {Type: cty.Bool, Default: cty.False,
		Description: "Ask once more just before the command runs, even after the plan was approved; only -force skips the question."},
}}

// Name implements resource.Type.
func (*Command) Name() string { return "command" }

// Schema implements resource.Type.
func (*Command) Schema() *resource.Schema { return schema }

// config is a decoded configuration.
type config struct {
	Host        resource.Host     `cty:"host"`
	Command     []string          `cty:"command"`
	Undo        []string          `cty:"undo"`
	Check       []string          `cty:"check"`
	Environment map[string]string `cty:"environment"`
	Timeout     string            `cty:"timeout"`
	Confirm     bool              `cty:"confirm"`

	timeout time.Duration
}

// decode decodes and checks a configuration (a Config or a Planned).
func decode(v cty.Value) (config, error) {
	c := config{Timeout: DefaultTimeout}
	if err := resource.Decode(v, &c); err != nil {
		return c, err
	}
	if errs := check(v); len(errs) > 0 {
		return c, errs
	}
	c.timeout, _ = time.ParseDuration(c.Timeout)
	return c, nil
}

// Validate implements resource.Validator. Unknown values are skipped:
// they are checked again at plan time, once known.
func (*Command) Validate(_ context.Context, v cty.Value) error {
	return check(v).Err()
}

// check finds what is wrong with a configuration, attribute by attribute.
func check(v cty.Value) resource.AttrErrors {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	var errs resource.AttrErrors
	for _, attr := range []string{"command", "undo", "check"} {
		errs = append(errs, checkArgv(v, attr)...)
	}
	if env, ok := resource.Known(v, "environment"); ok {
		for it := env.ElementIterator(); it.Next(); {
			k, val := it.Element()
			name := k.AsString()
			switch {
			case !envName.MatchString(name):
				errs = append(errs, &resource.AttrError{Path: cty.GetAttrPath("environment").Index(k), Summary: "Invalid environment variable name",
					Detail: fmt.Sprintf("%q is not a variable name: use letters, digits and underscores, not starting with a digit, e.g. LC_ALL.", name)})
			case val.IsNull():
				errs = append(errs, &resource.AttrError{Path: cty.GetAttrPath("environment").Index(k), Summary: "Null environment value",
					Detail: fmt.Sprintf("The value of %s is null; give a string (\"\" for empty), or leave the variable out.", name)})
			}
		}
	}
	if t, ok := resource.Known(v, "timeout"); ok {
		d, err := time.ParseDuration(t.AsString())
		switch {
		case err != nil:
			errs = append(errs, resource.Errorf("timeout", "Invalid duration",
				`The timeout %q is not a duration: write a number and a unit, e.g. "90s", "10m" or "1h30m".`, t.AsString()))
		case d <= 0:
			errs = append(errs, resource.Errorf("timeout", "Timeout not positive",
				`The timeout %q is not more than zero; give how long the command may run, e.g. "10m".`, t.AsString()))
		}
	}
	return errs
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// checkArgv checks one argv attribute: a list with a program first,
// every element a string.
func checkArgv(v cty.Value, attr string) resource.AttrErrors {
	av, ok := resource.Known(v, attr)
	if !ok {
		return nil
	}
	if av.LengthInt() == 0 {
		what := "leave it out or give"
		if attr == "command" {
			what = "give"
		}
		return resource.AttrErrors{resource.Errorf(attr, "Empty "+attr,
			"%s is an empty list; %s the program to run and its arguments, e.g. [\"newaliases\"].", attr, what)}
	}
	for i, el := range av.AsValueSlice() {
		switch {
		case el.IsNull():
			return resource.AttrErrors{{Path: cty.GetAttrPath(attr).IndexInt(i), Summary: "Null argument",
				Detail: fmt.Sprintf("Element %d of %s is null; every element must be a string.", i, attr)}}
		case i == 0 && strings.TrimSpace(el.AsString()) == "":
			return resource.AttrErrors{{Path: cty.GetAttrPath(attr).IndexInt(0), Summary: "Empty program",
				Detail: fmt.Sprintf("The first element of %s is the program to run, and it is empty.", attr)}}
		case i == 0 && strings.ContainsAny(el.AsString(), " \t\n") && !strings.Contains(el.AsString(), "/"):
			return resource.AttrErrors{{Path: cty.GetAttrPath(attr).IndexInt(0), Summary: "Program with spaces",
				Detail: fmt.Sprintf("The program %q holds white space: %s is an argv list, run without a shell, so give each argument as its own element, e.g. [\"doveadm\", \"force-resync\", \"-u\", \"*\", \"INBOX\"].", el.AsString(), attr)}}
		}
	}
	return nil
}

// KeptInState implements resource.StateKept: without a check, nothing on
// the host tells that the command ran.
func (*Command) KeptInState(v cty.Value) bool {
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.Type().IsObjectType() || !v.Type().HasAttribute("check") {
		return false
	}
	c := v.GetAttr("check")
	return c.IsNull() || (c.IsKnown() && c.LengthInt() == 0)
}

// ConfirmPrompt implements resource.Confirmer: with confirm = true, the
// changes that run the command ask first.
func (*Command) ConfirmPrompt(v cty.Value, action string) string {
	uv, _ := v.UnmarkDeep()
	if uv.IsNull() || !uv.Type().HasAttribute("confirm") {
		return ""
	}
	if cf := uv.GetAttr("confirm"); cf.IsNull() || !cf.IsKnown() || cf.False() {
		return ""
	}
	switch action {
	case "create", "replace", "resume":
	default:
		return ""
	}
	h, err := resource.HostFromValue(uv.GetAttr("host"))
	if err != nil {
		return ""
	}
	return fmt.Sprintf("Run `%s` on %s?", shown(v.GetAttr("command")), h.String())
}

// shown writes an argv value as a reader takes it in: words as they are,
// an argument with spaces or shell characters quoted (Go syntax), and a
// sensitive one as (sensitive value). It is for messages only: the argv
// itself never goes through a shell.
func shown(v cty.Value) string {
	if v.IsMarked() {
		return "(sensitive value)"
	}
	if v.IsNull() || !v.IsKnown() {
		return "(not known)"
	}
	var parts []string
	for _, el := range v.AsValueSlice() {
		switch {
		case el.IsMarked():
			parts = append(parts, "(sensitive value)")
		case el.IsNull() || !el.IsKnown():
			parts = append(parts, "(not known)")
		default:
			parts = append(parts, quoteArg(el.AsString()))
		}
	}
	return strings.Join(parts, " ")
}

// quoteArg quotes s with strconv.Quote unless it is one plain word.
func quoteArg(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=+,@%^", r)) {
			return strconv.Quote(s)
		}
	}
	return s
}

// shownArgv is shown for a decoded argv with no sensitive value.
func shownArgv(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		parts[i] = quoteArg(a)
	}
	return strings.Join(parts, " ")
}
