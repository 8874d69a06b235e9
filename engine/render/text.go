package render

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/plans"
)

// PlanText writes p as Terraform prints a plan: a legend of the symbols
// used, one block per changed resource instance, the
// `Plan: N to add, N to change, N to destroy.` line, changes to outputs and
// the resources still waiting. A plan without changes prints
// `No changes. Your servers match the plan.`, followed by any pending steps
// and waits.
func PlanText(w io.Writer, p *plans.Plan, opts TextOptions) error {
	pr := &printer{color: opts.Color}
	pr.plan(p)
	_, err := w.Write(pr.buf.Bytes())
	return err
}

// printer accumulates text. Every line it writes at depth d starts with
// 4*d+2 spaces and a one-character symbol, so that attribute names line up
// under Terraform's markers whatever the symbol.
type printer struct {
	buf   bytes.Buffer
	color bool
	// showUnchanged are the attributes of the change being printed that an
	// update shows even when unchanged (plans.Change.ShowUnchanged).
	showUnchanged map[string]bool
}

func (p *printer) paint(code, s string) string {
	if !p.color || s == "" {
		return s
	}
	return code + s + ansiReset
}

func (p *printer) symbol(s byte) string {
	switch s {
	case '+':
		return p.paint(ansiGreen, "+")
	case '-':
		return p.paint(ansiRed, "-")
	case '~':
		return p.paint(ansiYellow, "~")
	}
	return " "
}

// marker is the three-column marker of a resource header and the legend.
func (p *printer) marker(a plans.Action) string {
	switch a {
	case plans.Create:
		return "  " + p.symbol('+')
	case plans.Update, plans.Resume:
		return "  " + p.symbol('~')
	case plans.Delete:
		return "  " + p.symbol('-')
	case plans.Replace:
		return p.symbol('-') + "/" + p.symbol('+')
	}
	return "   "
}

func (p *printer) line(d int, s byte, text string) {
	p.buf.WriteString(strings.Repeat(" ", 4*d+2))
	p.buf.WriteString(p.symbol(s))
	p.buf.WriteByte(' ')
	p.buf.WriteString(text)
	p.buf.WriteByte('\n')
}

func (p *printer) printf(format string, args ...any) {
	fmt.Fprintf(&p.buf, format, args...)
}

func (p *printer) plan(plan *plans.Plan) {
	var shown []*plans.Change
	for _, c := range plan.Changes {
		if c.Action != plans.NoOp || c.Pending != "" || c.PreviousAddr != "" || c.TakesOver != "" {
			shown = append(shown, c)
		}
	}
	slices.SortStableFunc(shown, compareChanges)

	if !plan.HasChanges() {
		p.printf("%s %s\n", p.paint(ansiBold+ansiGreen, "No changes."), p.paint(ansiBold, "Your servers match the plan."))
		if len(shown) > 0 {
			p.printf("\n")
			for _, c := range shown {
				p.change(c)
				p.printf("\n")
			}
		}
		p.moves(plan, shown)
		p.adopt(plan.Adopt)
		p.waiting(plan.Waiting)
		p.continues(plan)
		return
	}

	p.legend(shown)
	if len(shown) > 0 {
		p.printf("%s\n\n", p.paint(ansiBold, "mailplan will perform the following actions:"))
		for _, c := range shown {
			p.change(c)
			p.printf("\n")
		}
		add, change, destroy := plan.Counts()
		p.printf("%s %d to add, %d to change, %d to destroy.\n", p.paint(ansiBold, "Plan:"), add, change, destroy)
	}
	p.outputs(plan.Outputs, len(shown) > 0)
	p.moves(plan, shown)
	p.adopt(plan.Adopt)
	p.waiting(plan.Waiting)
	p.continues(plan)
}

// continues says that applying the plan continues an unfinished apply.
func (p *printer) continues(plan *plans.Plan) {
	if plan.Continues {
		p.printf("\nApplying this plan continues the unfinished apply recorded in the state, and closes it; `mailplan rollback` afterwards undoes both.\n")
	}
}

// moves lists the moves no shown change tells of (an instance left out
// with -target, say): apply records them all.
func (p *printer) moves(plan *plans.Plan, shown []*plans.Change) {
	told := map[string]bool{}
	for _, c := range shown {
		if c.PreviousAddr != "" {
			told[c.PreviousAddr] = true
		}
	}
	var rest []plans.Move
	for _, m := range plan.Moved {
		if !told[m.From] {
			rest = append(rest, m)
		}
	}
	if len(rest) == 0 {
		return
	}
	p.printf("\nmailplan will record that %d resource(s) moved, changing nothing on the servers:\n", len(rest))
	for _, m := range rest {
		p.printf("  # %s has moved to %s\n", m.From, m.To)
	}
}

// adopt lists resources apply will start managing without changing them.
func (p *printer) adopt(addrs []string) {
	if len(addrs) == 0 {
		return
	}
	p.printf("\nmailplan will start managing %d resource(s) that already match the configuration, changing nothing on the servers:\n", len(addrs))
	for _, a := range addrs {
		p.printf("  # %s\n", a)
	}
}

func (p *printer) legend(shown []*plans.Change) {
	used := map[plans.Action]bool{}
	for _, c := range shown {
		a := c.Action
		if a == plans.Resume {
			a = plans.Update
		}
		if a != plans.NoOp && a != plans.Forget {
			used[a] = true
		}
	}
	if len(used) == 0 {
		return
	}
	p.printf("Resource actions are indicated with the following symbols:\n")
	for _, l := range []struct {
		a    plans.Action
		text string
	}{
		{plans.Create, "create"},
		{plans.Update, "update in-place"},
		{plans.Delete, "destroy"},
		{plans.Replace, "destroy and then create replacement"},
	} {
		if used[l.a] {
			p.printf("%s %s\n", p.marker(l.a), l.text)
		}
	}
	p.printf("\n")
}

var headings = map[plans.Action]string{
	plans.Create:  "will be created",
	plans.Update:  "will be updated in-place",
	plans.Delete:  "will be destroyed",
	plans.Replace: "must be replaced",
	plans.Resume:  "will resume after its wait",
	plans.NoOp:    "has a pending step",
	plans.Forget:  "will no longer be managed by mailplan",
}

func (p *printer) change(c *plans.Change) {
	p.showUnchanged = map[string]bool{}
	for _, name := range c.ShowUnchanged {
		p.showUnchanged[name] = true
	}
	addr := changeAddr(c)
	takeover := ""
	if c.TakesOver != "" {
		takeover = fmt.Sprintf("%s takes over %s (both manage %s); what mailplan first found there stays what destroy puts back", addr, c.TakesOver, c.TakesOverWhat)
	}
	switch {
	case c.Action == plans.NoOp && c.Pending == "" && takeover != "":
		p.printf("%s\n", p.paint(ansiBold, "  # "+takeover))
	case c.Action == plans.NoOp && c.Pending == "" && c.PreviousAddr != "":
		p.printf("%s\n", p.paint(ansiBold, "  # "+c.PreviousAddr+" has moved to "+addr))
	default:
		heading := headings[c.Action]
		if c.Interrupted {
			heading = "will finish what an interrupted apply started"
		}
		p.printf("%s\n", p.paint(ansiBold, "  # "+addr+" "+heading))
		if c.PreviousAddr != "" {
			p.printf("  # (moved from %s)\n", c.PreviousAddr)
		}
		if takeover != "" {
			p.printf("  # %s\n", takeover)
		}
	}
	if c.Reason != "" {
		p.printf("  # (because %s)\n", reasonText(addr, c.Reason))
	}
	p.printf("%s resource %s %s {\n", p.marker(c.Action), strconv.Quote(c.Type), strconv.Quote(c.Name))
	for _, l := range splitLines(c.Summary) {
		p.line(1, ' ', "# "+l)
	}
	if c.Action == plans.Forget {
		p.line(1, ' ', "# nothing on the servers changes; destroy will no longer put back what was there before mailplan")
	}
	for _, l := range splitLines(c.Pending) {
		p.line(1, ' ', "# pending: "+l)
	}
	if w := c.AfterWait; w != nil {
		p.line(1, ' ', fmt.Sprintf("# after the wait of %s, until %s: apply leaves this until then", w.Addr, w.Until.UTC().Format("2006-01-02 15:04:05 MST")))
	}
	switch c.Action {
	case plans.Create:
		p.objectFull(1, '+', c.After, "")
	case plans.Delete:
		p.objectFull(1, '-', c.Before, " -> null")
	case plans.Forget:
		p.objectDiff(1, c.Before, c.Before, nil)
	default:
		var replace map[string]bool
		if c.Action == plans.Replace {
			replace = map[string]bool{}
			for _, rp := range c.ReplacePaths {
				replace[topAttr(rp)] = true
			}
		}
		p.objectDiff(1, c.Before, c.After, replace)
	}
	p.line(0, ' ', "}")
}

// reasonText turns Change.Reason into Terraform's "(because ...)" phrase:
// a bare predicate such as "not in the configuration" gets the address as
// its subject; anything else is printed as given.
func reasonText(addr, reason string) string {
	if strings.HasPrefix(reason, "not ") || strings.HasPrefix(reason, "no longer ") {
		return addr + " is " + reason
	}
	return reason
}

// topAttr is the top-level attribute a replace path such as "path",
// "entries[0].key" or "exchanges.0" starts with.
func topAttr(path string) string {
	if i := strings.IndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return path
}

func changeAddr(c *plans.Change) string {
	if c.Addr != "" {
		return c.Addr
	}
	s := c.Type + "." + c.Name + c.Key
	if c.Module != "" {
		s = c.Module + "." + s
	}
	return s
}

// compareChanges orders changes by module, type, name and key, with count
// indexes in numeric order, as Terraform lists them.
func compareChanges(a, b *plans.Change) int {
	if c := strings.Compare(a.Module, b.Module); c != 0 {
		return c
	}
	if c := strings.Compare(a.Type, b.Type); c != 0 {
		return c
	}
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	ai, aerr := strconv.Atoi(strings.Trim(a.Key, "[]"))
	bi, berr := strconv.Atoi(strings.Trim(b.Key, "[]"))
	if aerr == nil && berr == nil && ai != bi {
		if ai < bi {
			return -1
		}
		return 1
	}
	if c := strings.Compare(a.Key, b.Key); c != 0 {
		return c
	}
	return strings.Compare(a.Addr, b.Addr)
}

func (p *printer) outputs(outs map[string]*plans.OutputChange, afterResources bool) {
	var names []string
	width := 0
	for name, o := range outs {
		if o.Action != plans.NoOp {
			names = append(names, name)
			width = max(width, len(name))
		}
	}
	if len(names) == 0 {
		return
	}
	slices.Sort(names)
	if afterResources {
		p.printf("\n")
	}
	p.printf("%s\n", p.paint(ansiBold, "Changes to Outputs:"))
	for _, name := range names {
		o := outs[name]
		b, a := o.Before, o.After
		if o.Sensitive {
			b, a = b.Mark(sensitive), a.Mark(sensitive)
		}
		key := pad(name, width) + " = "
		switch o.Action {
		case plans.Create:
			p.full(0, '+', key, a, "", "")
		case plans.Delete:
			p.full(0, '-', key, b, " -> null", "")
		default:
			if equal(b, a) {
				p.full(0, ' ', key, a, "", "")
			} else {
				p.update(0, key, b, a, "", "")
			}
		}
	}
}

func (p *printer) waiting(ws []*plans.Waiting) {
	if len(ws) == 0 {
		return
	}
	ws = slices.Clone(ws)
	slices.SortStableFunc(ws, func(a, b *plans.Waiting) int {
		if c := a.Until.Compare(b.Until); c != 0 {
			return c
		}
		return strings.Compare(a.Addr, b.Addr)
	})
	last := ws[len(ws)-1].Until
	noun := "resources"
	if len(ws) == 1 {
		noun = "resource"
	}
	if !bytes.HasSuffix(p.buf.Bytes(), []byte("\n\n")) {
		p.printf("\n")
	}
	p.printf("%s\n", p.paint(ansiBold, fmt.Sprintf("%d %s waiting until %s", len(ws), noun, last.Format(time.RFC3339))))
	for _, wt := range ws {
		l := fmt.Sprintf("  # %s waits until %s", wt.Addr, wt.Until.Format(time.RFC3339))
		if wt.Reason != "" {
			l += " (" + wt.Reason + ")"
		}
		p.printf("%s\n", l)
	}
}

// splitLines splits a comment text into lines; "" has none.
func splitLines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func pad(s string, width int) string {
	if len(s) >= width {
		return s
	}
	return s + strings.Repeat(" ", width-len(s))
}

func plural(n int, one string) string {
	if n == 1 {
		return one
	}
	return one + "s"
}

// isNull reports whether v is null or cty.NilVal (a change's missing side).
func isNull(v cty.Value) bool {
	return v.Type() == cty.NilType || v.IsNull()
}
