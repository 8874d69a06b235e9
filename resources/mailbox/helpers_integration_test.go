package mailbox_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/mailbox"
	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/testbed"
	"github.com/mailplan/mailplan/resources/transport"
	"github.com/mailplan/mailplan/resources/transport/pool"
)

// makeTree writes a small Maildir tree: users with a root Maildir and
// Maildir++ folders (nested, with a space and modified UTF-7), messages in
// new/ and cur/ with flags, empty messages, Dovecot metadata and index
// files, and a stray file outside any Maildir.
func makeTree(t testing.TB, root string, users, perFolder int, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	folders := []string{"", ".Sent", ".Archive", ".Archive.2024", ".Sent Items", ".R&AOk-sum&AOk-"}
	for u := range users {
		md := filepath.Join(root, fmt.Sprintf("user%d", u), "Maildir")
		for _, f := range folders {
			dir := filepath.Join(md, f)
			for _, sub := range []string{"cur", "new", "tmp"} {
				must(t, os.MkdirAll(filepath.Join(dir, sub), 0o700))
			}
			var uidlist strings.Builder
			fmt.Fprintf(&uidlist, "3 V%d N%d G0123456789abcdef\n", 1700000000+u, perFolder+1)
			for i := range perFolder {
				base := fmt.Sprintf("%d.M%dP%d.old,S=%d", 1700000000+i, r.IntN(1e6), u, i)
				size := r.IntN(40 << 10)
				if i%17 == 0 {
					size = 0
				}
				name := filepath.Join(dir, "new", base)
				if i%3 != 0 {
					name = filepath.Join(dir, "cur", base+":2,"+[]string{"S", "RS", "FS", ""}[i%4])
				}
				body := make([]byte, size)
				for k := range body {
					body[k] = byte('a' + r.IntN(26))
				}
				must(t, os.WriteFile(name, body, 0o600))
				mt := time.Unix(1700000000+int64(r.IntN(1e7)), 0)
				must(t, os.Chtimes(name, mt, mt))
				fmt.Fprintf(&uidlist, "%d %s\n", i+1, base)
			}
			must(t, os.WriteFile(filepath.Join(dir, "dovecot-uidlist"), []byte(uidlist.String()), 0o600))
			must(t, os.WriteFile(filepath.Join(dir, "dovecot.index.cache"), []byte("cache"), 0o600))
			must(t, os.WriteFile(filepath.Join(dir, "dovecot.index.log"), []byte("log"), 0o600))
			if f != "" {
				must(t, os.WriteFile(filepath.Join(dir, "maildirfolder"), nil, 0o600))
			} else {
				must(t, os.WriteFile(filepath.Join(dir, "subscriptions"), []byte("Sent\nArchive\n"), 0o600))
				must(t, os.WriteFile(filepath.Join(dir, "dovecot-keywords"), []byte("0 $Junk\n"), 0o600))
			}
		}
		must(t, os.WriteFile(filepath.Join(root, fmt.Sprintf("user%d", u), ".profile"), []byte("x"), 0o600))
	}
}

// addMessages puts n new messages in new/ of every Maildir under root.
func addMessages(t testing.TB, root string, n int, tag string) (added int) {
	t.Helper()
	for _, dir := range maildirs(t, root) {
		for i := range n {
			must(t, os.WriteFile(filepath.Join(dir, "new", fmt.Sprintf("1800000000.M%d%s.new", i, tag)), []byte("new mail "+tag), 0o600))
			added++
		}
	}
	return added
}

func maildirs(t testing.TB, root string) []string {
	var out []string
	must(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "cur" {
			out = append(out, filepath.Dir(p))
		}
		return nil
	}))
	return out
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// fileState is what the comparison looks at.
type fileState struct {
	data  string
	mtime int64
	uid   int
}

// tree lists the Maildir content under root: messages and metadata, by
// relative path. Temporary files and mailplan's own records are listed
// too, under their names, so that leftovers show.
func tree(t testing.TB, root string) map[string]fileState {
	out := map[string]fileState{}
	if _, err := os.Stat(root); os.IsNotExist(err) {
		return out
	}
	must(t, filepath.Walk(root, func(p string, fi fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[rel] = fileState{data: string(b), mtime: fi.ModTime().Unix(), uid: int(fi.Sys().(*syscall.Stat_t).Uid)}
		return nil
	}))
	return out
}

// sameTrees checks that dst holds exactly the Maildir files of src that a
// copy brings (messages, and metadata when meta), byte for byte with their
// times, and nothing else but mailplan's records.
func sameTrees(t testing.TB, src, dst string, meta bool) {
	t.Helper()
	want := map[string]fileState{}
	for rel, st := range tree(t, src) {
		base := filepath.Base(rel)
		dir := filepath.Base(filepath.Dir(rel))
		switch {
		case dir == "cur" || dir == "new":
		case meta && (base == "dovecot-uidlist" || base == "dovecot-keywords" || base == "subscriptions" || base == "maildirfolder"):
		default:
			continue
		}
		want[rel] = st
	}
	got := tree(t, dst)
	for rel := range got {
		if strings.Contains(rel, ".mailplan-snapshots") {
			delete(got, rel)
		}
	}
	for rel, w := range want {
		g, ok := got[rel]
		switch {
		case !ok:
			t.Errorf("missing at the destination: %s", rel)
		case g.data != w.data:
			t.Errorf("%s differs: %d bytes, want %d", rel, len(g.data), len(w.data))
		case g.mtime != w.mtime:
			t.Errorf("%s has mtime %d, want %d", rel, g.mtime, w.mtime)
		}
	}
	for rel := range got {
		if _, ok := want[rel]; !ok {
			t.Errorf("unexpected at the destination: %s", rel)
		}
	}
}

// env is a source tree reached over a real sshd and a local destination.
type env struct {
	t        testing.TB
	src, dst string
	from, to resource.Host
	hosts    mailbox.Hosts
	typ      *mailbox.Copy
	// logger, when set, replaces the test's logger in apply.
	logger hclog.Logger
}

func newEnv(t testing.TB) *env {
	srv := testbed.SSHD(t)
	p := pool.New(nil)
	t.Cleanup(func() { p.Close() })
	from := srv.Host
	from.Name = "old"
	e := &env{t: t, src: filepath.Join(t.TempDir(), "src"), dst: filepath.Join(t.TempDir(), "vmail"),
		from: from, to: resource.Host{Name: "new", Transport: "local"}, hosts: p}
	must(t, os.MkdirAll(e.src, 0o755))
	e.typ = mailbox.New(e.hosts)
	return e
}

func (e *env) withHosts(h mailbox.Hosts) *env {
	c := *e
	c.hosts = h
	c.typ = mailbox.New(h)
	return &c
}

func (e *env) config(attrs map[string]cty.Value) cty.Value {
	all := map[string]cty.Value{
		"from": resourcetest.HostValue(e.t, e.from), "to": resourcetest.HostValue(e.t, e.to),
		"source": cty.StringVal(e.src), "destination": cty.StringVal(e.dst),
	}
	for k, v := range attrs {
		all[k] = v
	}
	return resourcetest.Config(e.t, e.typ, all)
}

type result struct {
	read    resource.ReadResponse
	plan    resource.PlanResponse
	journal [][]byte
	private []byte
	err     error
	bytes   int64
}

type progress struct{ total, done atomic.Int64 }

func (p *progress) Total(n int64, _ string) { p.total.Store(n) }
func (p *progress) Add(n int64)             { p.done.Add(n) }

// apply reads, plans and applies cfg; a read or plan error is in err.
func (e *env) apply(cfg cty.Value) result {
	e.t.Helper()
	ctx := context.Background()
	var r result
	log := resourcetest.Logger(e.t)
	if e.logger != nil {
		log = e.logger
	}
	if r.read, r.err = e.typ.Read(ctx, resource.ReadRequest{Addr: "mailbox_copy.t", Config: cfg, Logger: log}); r.err != nil {
		return r
	}
	cur := r.read.Current
	if r.plan, r.err = e.typ.Plan(ctx, resource.PlanRequest{Addr: "mailbox_copy.t", Config: cfg, Current: cur, Snapshot: r.read.Snapshot, Logger: log}); r.err != nil {
		return r
	}
	j := &resourcetest.Journal{}
	pr := &progress{}
	ar, err := e.typ.Apply(ctx, resource.ApplyRequest{Addr: "mailbox_copy.t", Config: cfg, Current: cur, Planned: r.plan.Planned,
		Snapshot: r.read.Snapshot, Journal: j, Progress: pr, Logger: log})
	r.err, r.private = err, ar.Private
	r.journal = j.Entries()
	r.bytes = pr.done.Load()
	if r.err == nil && pr.done.Load() != pr.total.Load() {
		e.t.Errorf("progress: %d of %d bytes", pr.done.Load(), pr.total.Load())
	}
	return r
}

func (e *env) mustApply(cfg cty.Value) result {
	e.t.Helper()
	r := e.apply(cfg)
	if r.err != nil {
		e.t.Fatalf("apply: %v", r.err)
	}
	return r
}

// settled checks that a fresh read plans no change.
func (e *env) settled(cfg cty.Value) {
	e.t.Helper()
	ctx := context.Background()
	rd, err := e.typ.Read(ctx, resource.ReadRequest{Addr: "mailbox_copy.t", Config: cfg})
	must(e.t, err)
	pl, err := e.typ.Plan(ctx, resource.PlanRequest{Addr: "mailbox_copy.t", Config: cfg, Current: rd.Current, Snapshot: rd.Snapshot})
	must(e.t, err)
	if !pl.Planned.RawEquals(rd.Current) {
		e.t.Errorf("not settled: current %s, summary %q", rd.Current.GoString(), pl.Summary)
	}
}

func (e *env) restore(cfg cty.Value, journal [][]byte) {
	e.t.Helper()
	must(e.t, e.typ.Restore(context.Background(), resource.RestoreRequest{Addr: "mailbox_copy.t", Config: cfg, Journal: journal}))
}

// hostsFunc wraps the destination host.
type hostsFunc struct {
	base mailbox.Hosts
	wrap func(transport.Host) transport.Host
	name string
}

func (h hostsFunc) Get(ctx context.Context, rh resource.Host) (transport.Host, error) {
	th, err := h.base.Get(ctx, rh)
	if err != nil || rh.Name != h.name {
		return th, err
	}
	return h.wrap(th), nil
}

// failingHost fails every Create after the first n, and reports free
// space when free is set.
type failingHost struct {
	transport.Host
	creates atomic.Int64
	n       int64
	free    *uint64
	denied  string
}

func (f *failingHost) Create(ctx context.Context, p string, mode fs.FileMode) (io.WriteCloser, error) {
	if f.n >= 0 && f.creates.Add(1) > f.n {
		return nil, fmt.Errorf("create %s: injected failure", p)
	}
	return f.Host.Create(ctx, p, mode)
}

func (f *failingHost) ReadDir(ctx context.Context, p string) ([]transport.FileInfo, error) {
	if f.denied != "" && p == f.denied {
		return nil, fmt.Errorf("read directory: open %s: %w", p, fs.ErrPermission)
	}
	return f.Host.ReadDir(ctx, p)
}

func (f *failingHost) StatFS(ctx context.Context, p string) (uint64, error) {
	if f.free != nil {
		return *f.free, nil
	}
	return f.Host.(transport.FSStater).StatFS(ctx, p)
}
