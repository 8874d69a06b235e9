package mailbox_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
)

const onceSummary = "copied once by an earlier apply (once = true): the destination is its users' now; nothing more is copied"

// planWith reads cfg and plans it with the state's record prior, as the
// engine does.
func (e *env) planWith(cfg cty.Value, prior *resource.Prior) (resource.ReadResponse, resource.PlanResponse) {
	e.t.Helper()
	ctx := context.Background()
	rd, err := e.typ.Read(ctx, resource.ReadRequest{Addr: "mailbox_copy.t", Config: cfg})
	must(e.t, err)
	pl, err := e.typ.Plan(ctx, resource.PlanRequest{Addr: "mailbox_copy.t", Config: cfg, Current: rd.Current, Snapshot: rd.Snapshot, Prior: prior})
	must(e.t, err)
	return rd, pl
}

// record is what the state keeps after a successful apply of cfg, as
// engine/exec writes it: the configuration, the value read back after the
// apply, and the apply's Private.
func (e *env) record(cfg cty.Value, r result) *resource.Prior {
	e.t.Helper()
	rd, err := e.typ.Read(context.Background(), resource.ReadRequest{Addr: "mailbox_copy.t", Config: cfg})
	must(e.t, err)
	return &resource.Prior{Config: cfg, Result: rd.Current, Private: r.private}
}

// TestOnce: after a completed copy with once = true, what users do on the
// new server stays (deletions, flags), and new mail at the old server is
// not copied, until the selection changes. A rollback of the apply that
// changed the selection brings back the earlier record.
func TestOnce(t *testing.T) {
	e := newEnv(t)
	makeTree(t, e.src, 2, 6, 11)
	list := func(s ...string) cty.Value {
		if len(s) == 0 {
			return cty.ListValEmpty(cty.String)
		}
		var vs []cty.Value
		for _, x := range s {
			vs = append(vs, cty.StringVal(x))
		}
		return cty.ListVal(vs)
	}
	cfg := e.config(map[string]cty.Value{"once": cty.True, "include": list("user0/**")})

	r := e.mustApply(cfg)
	if diff := cmp.Diff(`{"completed":true}`, string(r.private)); diff != "" {
		t.Errorf("Private (-want +got):\n%s", diff)
	}
	first := e.record(cfg, r)

	// The cutover is over: users delete and re-flag on the new server, and
	// a late message still reaches the old one.
	md := filepath.Join(e.dst, "user0", "Maildir")
	msgs, _ := filepath.Glob(filepath.Join(md, "cur", "*"))
	if len(msgs) < 2 {
		t.Fatalf("corpus with %d messages in cur/", len(msgs))
	}
	deleted := msgs[0]
	must(t, os.Remove(deleted))
	base, _, _ := strings.Cut(filepath.Base(msgs[1]), ":")
	reflagged := filepath.Join(md, "cur", base+":2,RST")
	must(t, os.Rename(msgs[1], reflagged))
	addMessages(t, filepath.Join(e.src, "user0"), 1, "late")
	users := tree(t, e.dst)

	rd, pl := e.planWith(cfg, first)
	if !pl.Planned.RawEquals(rd.Current) {
		t.Errorf("plan after the copy changes %s", rd.Current.GoString())
	}
	if diff := cmp.Diff(onceSummary, pl.Summary); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	// What once keeps from happening: the listing sees the differences.
	if count(rd.Current, "pending_messages") == 0 || count(rd.Current, "flag_changes") == 0 {
		t.Errorf("the plan saw no difference to keep: %s", rd.Current.GoString())
	}

	other := *e
	other.from.Address, other.from.Port = "203.0.113.10", 2222
	elsewhere := *e
	elsewhere.src = "/srv/oldmail"
	for _, tc := range []struct {
		name    string
		cfg     cty.Value
		prior   *resource.Prior
		noRead  bool // plan -refresh=false: Current is the state's Result, no snapshot
		copying bool
	}{
		{name: "same selection", cfg: cfg, prior: first},
		{name: "patterns repeated", cfg: e.config(map[string]cty.Value{"once": cty.True, "include": list("user0/**", "user0/**")}), prior: first},
		{name: "other connection settings then", cfg: cfg,
			prior: &resource.Prior{Config: other.config(map[string]cty.Value{"once": cty.True, "include": list("user0/**")}), Result: first.Result, Private: first.Private}},
		{name: "other settings than the selection", cfg: e.config(map[string]cty.Value{"once": cty.True, "include": list("user0/**"), "verify": cty.StringVal("sha256"), "parallelism": cty.NumberIntVal(2)}), prior: first},
		{name: "without refresh", cfg: cfg, prior: first, noRead: true},

		// An adopted copy (nothing was pending at plan time) never copied:
		// a migration's final pass adopted in an apply that stopped at a DNS
		// wait must still copy what arrives until the cutover.
		{name: "record without Private (adopted, or an older mailplan)", cfg: cfg, prior: &resource.Prior{Config: first.Config, Result: first.Result}, copying: true},
		{name: "once = false", cfg: e.config(map[string]cty.Value{"include": list("user0/**")}), prior: first, copying: true},
		{name: "no record (rolled back)", cfg: cfg, prior: nil, copying: true},
		{name: "record of an apply not completed", cfg: cfg, prior: &resource.Prior{Config: first.Config, Result: first.Result, Private: []byte(`{"completed":false}`)}, copying: true},
		{name: "include changed", cfg: e.config(map[string]cty.Value{"once": cty.True, "include": list("user0/**", "user1/**")}), prior: first, copying: true},
		{name: "exclude changed", cfg: e.config(map[string]cty.Value{"once": cty.True, "include": list("user0/**"), "exclude": list("**/.Trash")}), prior: first, copying: true},
		{name: "source changed", cfg: cfg,
			prior: &resource.Prior{Config: elsewhere.config(map[string]cty.Value{"once": cty.True, "include": list("user0/**")}), Result: first.Result, Private: first.Private}, copying: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cur cty.Value
			var pl resource.PlanResponse
			if tc.noRead {
				cur = tc.prior.Result
				var err error
				pl, err = e.typ.Plan(t.Context(), resource.PlanRequest{Addr: "mailbox_copy.t", Config: tc.cfg, Current: cur, Prior: tc.prior})
				must(t, err)
			} else {
				var rd resource.ReadResponse
				rd, pl = e.planWith(tc.cfg, tc.prior)
				cur = rd.Current
			}
			if got := !pl.Planned.RawEquals(cur); got != tc.copying {
				t.Errorf("plan changes: %v, want %v (summary %q)", got, tc.copying, pl.Summary)
			}
			if tc.copying == (pl.Summary == onceSummary) {
				t.Errorf("summary %q", pl.Summary)
			}
		})
	}
	// Plans change nothing on a host.
	if diff := diffTrees(users, tree(t, e.dst)); diff != "" {
		t.Errorf("the destination changed: %s", diff)
	}

	// A new selection copies as usual: user1's mailboxes, and user0's
	// again, the deleted message and the source's flags included.
	cfg2 := e.config(map[string]cty.Value{"once": cty.True, "include": list("user0/**", "user1/**")})
	r2 := e.mustApply(cfg2)
	sameTrees(t, e.src, e.dst, true)
	second := e.record(cfg2, r2)
	addMessages(t, filepath.Join(e.src, "user1"), 1, "later")
	if rd, pl := e.planWith(cfg2, second); !pl.Planned.RawEquals(rd.Current) {
		t.Errorf("plan after the second copy changes %s", rd.Current.GoString())
	}

	// Rolling that apply back removes what it copied, and the state holds
	// the first record again: the new selection copies again, the first
	// one still does not.
	e.restore(cfg2, r2.journal)
	if _, err := os.Stat(deleted); !os.IsNotExist(err) {
		t.Errorf("the message deleted at the destination after rollback: %v", err)
	}
	if _, err := os.Stat(reflagged); err != nil {
		t.Errorf("the user's flags after rollback: %v", err)
	}
	if rd, pl := e.planWith(cfg2, first); pl.Planned.RawEquals(rd.Current) {
		t.Errorf("after rollback the new selection plans no copy (summary %q)", pl.Summary)
	}
	if rd, pl := e.planWith(cfg, first); !pl.Planned.RawEquals(rd.Current) {
		t.Errorf("after rollback the first selection plans a copy: %s", rd.Current.GoString())
	}
}
