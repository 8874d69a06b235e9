package transport

import (
	"context"
	"fmt"

	"github.com/mailplan/mailplan/engine/resource"
)

// AccessChecker is implemented by hosts that can tell, before a plan is
// applied, whether the account mailplan acts as there may do what the
// plan needs (SSH hosts): a user without a NOPASSWD sudo rule, or without
// write access to a configuration directory or a mail root, would
// otherwise be found out only when the apply first writes — after it has
// changed other hosts.
type AccessChecker interface {
	// CheckAccess checks, changing nothing:
	//   - with sudo configured, that `sudo -n` runs a command without
	//     asking for a password (dirs are not checked: the commands run as
	//     root);
	//   - without sudo, that the account may write in each of dirs — for a
	//     directory not there yet, in the nearest one above it that is,
	//     where it would be created.
	// It returns an *AccessError for the first problem. Each answer is
	// kept for the life of the connection: asking again costs nothing.
	CheckAccess(ctx context.Context, dirs []string) error
}

// AccessError is what CheckAccess found wrong.
type AccessError struct {
	Host string // the host's name in messages
	User string // the account mailplan logs in as
	// Sudo: `sudo -n` was refused; Msg says why and what fixes it.
	Sudo bool
	// Dir is the directory the account cannot write (Sudo false); Want is
	// the directory the plan writes in: Dir itself or one below it that
	// is not there yet.
	Dir, Want string
	Msg       string
}

func (e *AccessError) Error() string {
	if e.Sudo {
		return e.Msg
	}
	what := e.Dir
	if e.Want != e.Dir {
		what = fmt.Sprintf("%s (to create %s)", e.Dir, e.Want)
	}
	return fmt.Sprintf("the SSH user %q cannot write in %s on %s", e.User, what, e.Host)
}

// CheckAccess asks h, or the host it wraps, whether the plan can write in
// dirs there (AccessChecker); nil from a host that cannot tell (local: a
// write is checked when it is made, with nothing else changed yet).
func CheckAccess(ctx context.Context, h Host, dirs ...string) error {
	for {
		if c, ok := h.(AccessChecker); ok {
			return c.CheckAccess(ctx, dirs)
		}
		u, ok := h.(Unwrapper)
		if !ok {
			return nil
		}
		h = u.Unwrap()
	}
}

// AccessNeed is what one planned instance will write on one host: the
// attribute naming the host, and each directory with the attribute that
// names it (the diagnostics' subjects).
type AccessNeed struct {
	Addr     string
	Host     resource.Host
	HostAttr string
	Dirs     []AccessDir
}

// AccessDir is a directory an instance writes in, and the attribute that
// names it (or the file in it).
type AccessDir struct {
	Attr, Path string
}

// CheckPlanAccess checks the access of each need (see AccessChecker), for
// a resource.PlanChecker: a host's answers are kept on its connection, so
// a host many instances write to is asked once per directory, and once
// only whether sudo works. A refused sudo is reported on the host
// attribute, a directory the account cannot write on the attribute that
// names it. A host that cannot be reached is left to Read, which reported
// it.
func CheckPlanAccess(ctx context.Context, g Getter, needs []AccessNeed) []resource.PlanProblem {
	var probs []resource.PlanProblem
	for _, n := range needs {
		h, err := g.Get(ctx, n.Host)
		if err != nil {
			continue
		}
		dirs := make([]string, len(n.Dirs))
		for i, d := range n.Dirs {
			dirs[i] = d.Path
		}
		err = CheckAccess(ctx, h, dirs...)
		ae, ok := err.(*AccessError)
		switch {
		case err == nil:
			continue
		case !ok:
			probs = append(probs, resource.PlanProblem{Addr: n.Addr, Err: fmt.Errorf("check access on %s: %w", h.Name(), err)})
		case ae.Sudo:
			probs = append(probs, resource.PlanProblem{Addr: n.Addr, Err: resource.Errorf(n.HostAttr, "Cannot use sudo on the host",
				"%s. It was checked at plan time (sudo -n true): nothing has been changed.", ae.Msg)})
		default:
			attr := n.HostAttr
			for _, d := range n.Dirs {
				if d.Path == ae.Want {
					attr = d.Attr
				}
			}
			probs = append(probs, resource.PlanProblem{Addr: n.Addr, Err: resource.Errorf(attr, "Directory not writable",
				"%s, where this resource writes. Give the user write access there, log in as root, or set sudo = true "+
					"in the host block with a NOPASSWD sudoers rule (see the troubleshooting guide). It was checked at plan time: nothing has been changed.",
				upper(ae.Error()))})
		}
	}
	return probs
}

// NeedsOf is the AccessNeed of each instance of type typ that the plan
// changes (Changes), for CheckPlanAccess; need returns false for an
// instance it cannot tell (a configuration that does not decode: Plan
// reported it).
func NeedsOf(req resource.CheckPlanRequest, typ string, need func(resource.PlannedInstance) (AccessNeed, bool)) []AccessNeed {
	var needs []AccessNeed
	for _, in := range req.Instances {
		if in.Type != typ || !Changes(in) {
			continue
		}
		if n, ok := need(in); ok {
			needs = append(needs, n)
		}
	}
	return needs
}

// Changes reports whether a planned instance changes anything: what it
// reaches differs from what is there (a delete puts back what was there
// before, so it writes too).
func Changes(in resource.PlannedInstance) bool {
	cur, _ := in.Current.UnmarkDeep()
	pl, _ := in.Planned.UnmarkDeep()
	return !cur.RawEquals(pl)
}

func upper(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
