package postfix_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/postfix"
	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/testbed"
	"github.com/mailplan/mailplan/resources/transport"
	"github.com/mailplan/mailplan/resources/transport/keep"
)

// The tests run in parallel, each with its own Postfix instances: most
// of their time is Postfix waiting for a just-edited main.cf to settle
// (every Postfix command sleeps ~1.5 s after a change to it).

var localHost = resource.Host{Name: "old", Transport: "local"}

// counter counts what a type asks of hosts: commands run and file
// operations, each one SSH round trip (or more) on a remote host. With
// failAt > 0 the failAt-th operation fails, before it is done.
type counter struct {
	hosts postfix.Hosts

	mu     sync.Mutex
	runs   int
	files  int
	failAt int
	failed string
	argv   []string // commands run, for the log
}

func (c *counter) Get(ctx context.Context, h resource.Host) (transport.Host, error) {
	th, err := c.hosts.Get(ctx, h)
	if err != nil {
		return nil, err
	}
	return &countedHost{Host: th, c: c}, nil
}

func (c *counter) reset(failAt int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runs, c.files, c.failAt, c.failed, c.argv = 0, 0, failAt, "", nil
}

func (c *counter) counts() (runs, files int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs, c.files
}

var errInjected = errors.New("injected failure")

// op counts one operation and says whether it must fail.
func (c *counter) op(run bool, what string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if run {
		c.runs++
		c.argv = append(c.argv, what)
	} else {
		c.files++
	}
	if c.failAt > 0 && c.runs+c.files == c.failAt {
		c.failed = what
		return fmt.Errorf("%s: %w", what, errInjected)
	}
	return nil
}

type countedHost struct {
	transport.Host
	c *counter
}

// Unwrap lets transport.HostLock reach the real host's lock.
func (h *countedHost) Unwrap() transport.Host { return h.Host }

func (h *countedHost) Run(ctx context.Context, argv []string, opts transport.RunOptions) (transport.Result, error) {
	if err := h.c.op(true, strings.Join(argv, " ")); err != nil {
		return transport.Result{}, err
	}
	return h.Host.Run(ctx, argv, opts)
}

func (h *countedHost) Stat(ctx context.Context, p string) (transport.FileInfo, error) {
	if err := h.c.op(false, "stat "+p); err != nil {
		return transport.FileInfo{}, err
	}
	return h.Host.Stat(ctx, p)
}

func (h *countedHost) ReadFile(ctx context.Context, p string) ([]byte, error) {
	if err := h.c.op(false, "read "+p); err != nil {
		return nil, err
	}
	return h.Host.ReadFile(ctx, p)
}

func (h *countedHost) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	if err := h.c.op(false, "open "+p); err != nil {
		return nil, err
	}
	return h.Host.Open(ctx, p)
}

func (h *countedHost) WriteFile(ctx context.Context, p string, data []byte, opts transport.WriteOptions) error {
	if err := h.c.op(false, "write "+p); err != nil {
		return err
	}
	return h.Host.WriteFile(ctx, p, data, opts)
}

func (h *countedHost) Rename(ctx context.Context, from, to string) error {
	if err := h.c.op(false, "rename "+from); err != nil {
		return err
	}
	return h.Host.Rename(ctx, from, to)
}

func (h *countedHost) Remove(ctx context.Context, p string) error {
	if err := h.c.op(false, "remove "+p); err != nil {
		return err
	}
	return h.Host.Remove(ctx, p)
}

func (h *countedHost) MkdirAll(ctx context.Context, p string, mode fs.FileMode) error {
	if err := h.c.op(false, "mkdir "+p); err != nil {
		return err
	}
	return h.Host.MkdirAll(ctx, p, mode)
}

func newCounter(t *testing.T) *counter {
	p := resourcetest.Pool(t)
	return &counter{hosts: p}
}

// instance starts a Postfix instance whose main.cf already lists a
// transport table, as a production server's would.
func instance(t *testing.T, name, addr string) *testbed.PostfixInstance {
	t.Helper()
	pf := testbed.Postfix(t, testbed.PostfixOptions{Name: name, Addr: addr})
	transportTable := filepath.Join(pf.ConfigDir, "transport")
	if err := os.WriteFile(transportTable, []byte("example.net smtp:[127.0.0.9]:25\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pf.Postmap(t, "hash:"+transportTable)
	// Written as people do, not as postconf -e would: a restore must
	// bring back this exact form.
	appendMainCF(t, pf, "transport_maps =\n    hash:"+transportTable+"\nmessage_size_limit=20480000\n")
	pf.Reload(t)
	return pf
}

func appendMainCF(t *testing.T, pf *testbed.PostfixInstance, text string) {
	t.Helper()
	p := filepath.Join(pf.ConfigDir, "main.cf")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, append(data, text...), 0o644); err != nil {
		t.Fatal(err)
	}
	backdate(t, p)
}

// backdate makes main.cf look old, so that Postfix commands do not wait
// for it to settle (they sleep ~1.5 s after a recent change).
func backdate(t testing.TB, p string) {
	old := time.Now().Add(-5 * time.Second)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
}

var compiledExt = map[string]string{".db": "hash", ".lmdb": "lmdb", ".cdb": "cdb"}

// observe describes the instance as a restore must put it back: main.cf
// and every file of the configuration directory byte for byte, except
// compiled tables, whose content is listed with postmap -s (their bytes
// are not reproducible), and the kept copies of package keep.
func observe(pf *testbed.PostfixInstance) func(testing.TB) []byte {
	return func(t testing.TB) []byte {
		t.Helper()
		var out strings.Builder
		err := filepath.WalkDir(pf.ConfigDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == keep.Dir {
				return filepath.SkipDir
			}
			if d.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(pf.ConfigDir, p)
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			if typ, ok := compiledExt[filepath.Ext(p)]; ok {
				src := strings.TrimSuffix(p, filepath.Ext(p))
				dump := pf.Postmap(t, "-s", typ+":"+src)
				lines := strings.Split(strings.TrimSpace(dump), "\n")
				sort.Strings(lines)
				fmt.Fprintf(&out, "== %s %v (compiled)\n%s\n", rel, fi.Mode(), strings.Join(lines, "\n"))
				return nil
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&out, "== %s %v\n%s\n", rel, fi.Mode(), data)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return []byte(out.String())
	}
}

func entries(kv ...string) cty.Value {
	var vals []cty.Value
	for i := 0; i+1 < len(kv); i += 2 {
		vals = append(vals, cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(kv[i]), "value": cty.StringVal(kv[i+1])}))
	}
	return cty.ListVal(vals)
}

func mapConfig(t *testing.T, m *postfix.Map, h resource.Host, pf *testbed.PostfixInstance, attrs map[string]cty.Value) cty.Value {
	t.Helper()
	attrs["host"] = resourcetest.HostValue(t, h)
	if _, ok := attrs["config_dir"]; !ok {
		attrs["config_dir"] = cty.StringVal(pf.ConfigDir)
	}
	return resourcetest.Config(t, m, attrs)
}

func mainCFParam(t *testing.T, pf *testbed.PostfixInstance, name string) string {
	t.Helper()
	return strings.TrimSpace(pf.Postconf(t, "-h", name))
}

// transports are the ways the tests reach the instance on this machine.
func transports(t *testing.T) map[string]resource.Host {
	return map[string]resource.Host{"local": localHost, "ssh": testbed.SSHD(t).Host}
}

// configParams makes postfix_config configurations of cf on h for pf's
// main.cf, from its parameters.
func configParams(t *testing.T, cf resource.Type, h resource.Host, pf *testbed.PostfixInstance) func(map[string]string) cty.Value {
	return func(params map[string]string) cty.Value {
		ps := map[string]cty.Value{}
		for k, v := range params {
			ps[k] = cty.StringVal(v)
		}
		return resourcetest.Config(t, cf, map[string]cty.Value{
			"host": resourcetest.HostValue(t, h), "config_dir": cty.StringVal(pf.ConfigDir), "parameters": cty.MapVal(ps),
		})
	}
}

func TestMapConformance(t *testing.T) {
	t.Parallel()
	for tname, h := range transports(t) {
		t.Run(tname+" hash with transport_maps", func(t *testing.T) {
			pf := instance(t, "old", "127.0.0.2")
			c := newCounter(t)
			m := postfix.NewMap(c)
			table := filepath.Join(pf.ConfigDir, "migration", "transport")
			existing := "hash:" + filepath.Join(pf.ConfigDir, "transport")
			create := mapConfig(t, m, h, pf, map[string]cty.Value{
				"path": cty.StringVal(table), "type": cty.StringVal("hash"),
				"entries":   entries("example.com", "smtp:[127.0.0.3]:25", "example.org", "error:gone"),
				"parameter": cty.StringVal("transport_maps"),
			})
			update := mapConfig(t, m, h, pf, map[string]cty.Value{
				"path": cty.StringVal(table), "type": cty.StringVal("hash"),
				"entries":   entries("example.com", "smtp:[127.0.0.4]:25"),
				"parameter": cty.StringVal("transport_maps"),
			})
			resourcetest.Run(t, resourcetest.Case{Type: m, Create: create, Update: update, Observe: observe(pf)})
			if got := mainCFParam(t, pf, "transport_maps"); got != existing {
				t.Errorf("after destroy transport_maps = %q, want %q", got, existing)
			}
			roundTrips(t, c, m, create, h)
		})
	}

	for tname, h := range transports(t) {
		t.Run(tname+" pcre with recipient_bcc_maps, last", func(t *testing.T) {
			pf := instance(t, "old", "127.0.0.2")
			c := newCounter(t)
			m := postfix.NewMap(c)
			table := filepath.Join(pf.ConfigDir, "bcc.pcre")
			appendMainCF(t, pf, "recipient_bcc_maps = hash:"+filepath.Join(pf.ConfigDir, "other_bcc")+"\n")
			create := mapConfig(t, m, h, pf, map[string]cty.Value{
				"path": cty.StringVal(table), "type": cty.StringVal("pcre"),
				"entries":   entries(`/^(.+)@example\.com$/`, "${1}@example.com.migration"),
				"parameter": cty.StringVal("recipient_bcc_maps"), "position": cty.StringVal("last"),
			})
			resourcetest.Run(t, resourcetest.Case{
				Type:   m,
				Create: create,
				Update: mapConfig(t, m, h, pf, map[string]cty.Value{
					"path": cty.StringVal(table), "type": cty.StringVal("pcre"),
					"entries":   entries(`/^(alice|bob)@example\.com$/`, "${1}@example.com.migration", `/^user@example\.com$/i`, "user@example.com.migration"),
					"parameter": cty.StringVal("recipient_bcc_maps"), "position": cty.StringVal("last"),
				}),
				Observe: observe(pf),
			})
			roundTrips(t, c, m, create, h)
		})
	}

	t.Run("existing lmdb table content, no parameter", func(t *testing.T) {
		pf := instance(t, "old", "127.0.0.2")
		m := postfix.NewMap(newCounter(t))
		table := filepath.Join(pf.ConfigDir, "access")
		if err := os.WriteFile(table, []byte("# hand written\n10.0.0.1   REJECT\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		pf.Postmap(t, "lmdb:"+table)
		resourcetest.Run(t, resourcetest.Case{
			Type: m,
			Create: mapConfig(t, m, localHost, pf, map[string]cty.Value{
				"path": cty.StringVal(table), "type": cty.StringVal("lmdb"), "content": cty.StringVal("10.0.0.2 REJECT\n"),
			}),
			Update: mapConfig(t, m, localHost, pf, map[string]cty.Value{
				"path": cty.StringVal(table), "type": cty.StringVal("lmdb"), "content": cty.StringVal("10.0.0.2 REJECT\n10.0.0.3 OK\n"),
			}),
			Observe: observe(pf),
		})
	})
}

// roundTrips logs how many operations (each at least one SSH round trip
// over SSH) a plan and an apply of cfg make: plan is Read + Plan, apply
// the engine's Read again + Apply. The real state is put back after.
func roundTrips(t *testing.T, c *counter, m resource.Type, cfg cty.Value, h resource.Host) {
	t.Helper()
	ctx := context.Background()
	c.reset(0)
	start := time.Now()
	read, err := m.Read(ctx, resource.ReadRequest{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	readRuns, readFiles := c.counts()
	plan, err := m.Plan(ctx, resource.PlanRequest{Config: cfg, Current: read.Current, Snapshot: read.Snapshot})
	if err != nil {
		t.Fatal(err)
	}
	planRuns, planFiles := c.counts()
	planTime := time.Since(start)
	c.reset(0)
	start = time.Now()
	read2, err := m.Read(ctx, resource.ReadRequest{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	j := &resourcetest.Journal{}
	if _, err := m.Apply(ctx, resource.ApplyRequest{Config: cfg, Current: read2.Current, Planned: plan.Planned, Snapshot: read2.Snapshot, Journal: j}); err != nil {
		t.Fatal(err)
	}
	applyRuns, applyFiles := c.counts()
	applyTime := time.Since(start)
	t.Logf("round trips of %s over %s: plan %d (read %d commands + %d file ops, plan %d commands + %d file ops, %v); apply %d (%d commands + %d file ops incl. its read, %v): %s",
		m.Name(), h.Transport, planRuns+planFiles, readRuns, readFiles, planRuns-readRuns, planFiles-readFiles, planTime.Round(time.Millisecond),
		applyRuns+applyFiles, applyRuns, applyFiles, applyTime.Round(time.Millisecond), strings.Join(c.argv, "; "))
	if err := m.Restore(ctx, resource.RestoreRequest{Config: cfg, Snapshot: read.Snapshot, Journal: j.Entries()}); err != nil {
		t.Fatal(err)
	}
}

func TestConfigConformance(t *testing.T) {
	t.Parallel()
	for tname, h := range transports(t) {
		t.Run(tname, func(t *testing.T) {
			pf := instance(t, "old", "127.0.0.2")
			c := newCounter(t)
			cf := postfix.NewConfig(c)
			cfg := configParams(t, cf, h, pf)
			resourcetest.Run(t, resourcetest.Case{
				Type: cf,
				// message_size_limit is set (as "name=value"), always_bcc
				// and delay_warning_time are not.
				Create:  cfg(map[string]string{"message_size_limit": "51200000", "always_bcc": "", "delay_warning_time": "4h"}),
				Update:  cfg(map[string]string{"message_size_limit": "10240000", "always_bcc": "archive@example.com", "delay_warning_time": "4h"}),
				Observe: observe(pf),
			})
			roundTrips(t, c, cf, cfg(map[string]string{"message_size_limit": "51200000", "always_bcc": "", "delay_warning_time": "4h"}), h)
		})
	}
}

// TestMapFailureInjected fails each operation of an apply in turn and
// checks that restoring with the journal so far and the snapshot puts
// back everything byte for byte.
func TestFailureInjected(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name             string
		table, parameter string
		typ              string
	}{
		{"existing table, unset parameter", "transport", "recipient_bcc_maps", "hash"},
		{"new table in a new directory, parameter with an entry", "migration/transport", "transport_maps", "hash"},
		{"new pcre table", "bcc.pcre", "recipient_bcc_maps", "pcre"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pf := instance(t, "old", "127.0.0.2")
			c := newCounter(t)
			m := postfix.NewMap(c)
			key := "example.com"
			if tc.typ == "pcre" {
				key = `/@example\.com$/`
			}
			cfg := mapConfig(t, m, localHost, pf, map[string]cty.Value{
				"path": cty.StringVal(filepath.Join(pf.ConfigDir, tc.table)), "type": cty.StringVal(tc.typ),
				"entries":   entries(key, "smtp:[127.0.0.3]:25"),
				"parameter": cty.StringVal(tc.parameter),
			})
			injectFailures(t, pf, c, m, cfg)
		})
	}
	t.Run("postfix_config", func(t *testing.T) {
		pf := instance(t, "old", "127.0.0.2")
		c := newCounter(t)
		cf := postfix.NewConfig(c)
		cfg := resourcetest.Config(t, cf, map[string]cty.Value{
			"host": resourcetest.HostValue(t, localHost), "config_dir": cty.StringVal(pf.ConfigDir),
			"parameters": cty.MapVal(map[string]cty.Value{"message_size_limit": cty.StringVal("1024000"), "delay_warning_time": cty.StringVal("4h")}),
		})
		injectFailures(t, pf, c, cf, cfg)
	})
}

// injectFailures fails each operation of an apply of cfg in turn and
// checks that restoring with the journal so far and the snapshot puts
// back everything byte for byte.
func injectFailures(t *testing.T, pf *testbed.PostfixInstance, c *counter, m resource.Type, cfg cty.Value) {
	ctx := context.Background()
	before := observe(pf)(t)
	for n := 1; ; n++ {
		c.reset(0)
		read, plan := resourcetest.ReadPlan(ctx, t, m, cfg)
		c.reset(n)
		j := &resourcetest.Journal{}
		_, err := m.Apply(ctx, resource.ApplyRequest{Config: cfg, Current: read.Current, Planned: plan.Planned, Snapshot: read.Snapshot, Journal: j, Logger: resourcetest.Logger(t)})
		c.mu.Lock()
		failed := c.failed
		c.mu.Unlock()
		switch {
		case failed == "" && err != nil:
			t.Fatalf("apply with no failure injected: %v", err)
		case failed == "":
			t.Logf("apply made %d operations; each failed once and was rolled back", n-1)
		case err == nil:
			// Some failures are expected and survived: keep.Save looks
			// for an existing copy first.
			t.Logf("failure at operation %d (%s) did not fail the apply", n, failed)
		case !errors.Is(err, errInjected):
			t.Fatalf("failure at operation %d (%s): apply returned %v", n, failed, err)
		}
		c.reset(0)
		if err := m.Restore(ctx, resource.RestoreRequest{Config: cfg, Snapshot: read.Snapshot, Journal: j.Entries(), Logger: resourcetest.Logger(t)}); err != nil {
			t.Fatalf("restore after failure at operation %d (%s): %v", n, failed, err)
		}
		if diff := cmp.Diff(string(before), string(observe(pf)(t))); diff != "" {
			t.Fatalf("after failure at operation %d (%s) and restore (-before +after):\n%s", n, failed, diff)
		}
		backdate(t, filepath.Join(pf.ConfigDir, "main.cf"))
		if failed == "" {
			break
		}
	}
}

// TestMapsShareParameter applies two maps listed in one parameter at
// once, as the engine's parallel walk does: both end up listed, with the
// entry that was there; restoring each (in either order) puts main.cf back.
func TestMapsShareParameter(t *testing.T) {
	t.Parallel()
	pf := instance(t, "old", "127.0.0.2")
	m := postfix.NewMap(newCounter(t))
	ctx := context.Background()
	before := observe(pf)(t)
	var cfgs []cty.Value
	for _, name := range []string{"a", "b"} {
		cfgs = append(cfgs, mapConfig(t, m, localHost, pf, map[string]cty.Value{
			"path": cty.StringVal(filepath.Join(pf.ConfigDir, "transport_"+name)), "type": cty.StringVal("hash"),
			"entries": entries(name+".example.com", "error:"+name), "parameter": cty.StringVal("transport_maps"),
		}))
	}
	type applied struct {
		snapshot []byte
		journal  [][]byte
	}
	results := make([]applied, len(cfgs))
	var wg sync.WaitGroup
	errs := make([]error, len(cfgs))
	for i, cfg := range cfgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			read, err := m.Read(ctx, resource.ReadRequest{Config: cfg})
			if err != nil {
				errs[i] = err
				return
			}
			plan, err := m.Plan(ctx, resource.PlanRequest{Config: cfg, Current: read.Current, Snapshot: read.Snapshot})
			if err != nil {
				errs[i] = err
				return
			}
			j := &resourcetest.Journal{}
			_, errs[i] = m.Apply(ctx, resource.ApplyRequest{Config: cfg, Current: read.Current, Planned: plan.Planned, Snapshot: read.Snapshot, Journal: j})
			results[i] = applied{read.Snapshot, j.Entries()}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	got := splitComma(mainCFParam(t, pf, "transport_maps"))
	sort.Strings(got)
	want := []string{"hash:" + filepath.Join(pf.ConfigDir, "transport"), "hash:" + filepath.Join(pf.ConfigDir, "transport_a"), "hash:" + filepath.Join(pf.ConfigDir, "transport_b")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("transport_maps after both applies (-want +got):\n%s", diff)
	}
	// Restore the first applied first: the other's entry must survive it.
	for _, i := range []int{0, 1} {
		if err := m.Restore(ctx, resource.RestoreRequest{Config: cfgs[i], Snapshot: results[i].snapshot, Journal: results[i].journal}); err != nil {
			t.Fatal(err)
		}
		if i == 0 && !strings.Contains(mainCFParam(t, pf, "transport_maps"), "transport_b") {
			t.Errorf("restoring a took b out of transport_maps: %q", mainCFParam(t, pf, "transport_maps"))
		}
	}
	if diff := cmp.Diff(string(before), string(observe(pf)(t))); diff != "" {
		t.Errorf("after both restores (-before +after):\n%s", diff)
	}
}

func splitComma(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		out = append(out, strings.TrimSpace(f))
	}
	return out
}

// TestPlanRejectedByPostmap: a regexp that looks like /pattern/ but that
// Postfix cannot compile fails the plan at the entry, with Postfix's own
// words, and leaves nothing on the host.
func TestPlanRejectedByPostmap(t *testing.T) {
	t.Parallel()
	pf := instance(t, "old", "127.0.0.2")
	c := newCounter(t)
	m := postfix.NewMap(c)
	ctx := context.Background()
	table := filepath.Join(pf.ConfigDir, "bcc.regexp")
	cfg := mapConfig(t, m, localHost, pf, map[string]cty.Value{
		"path": cty.StringVal(table), "type": cty.StringVal("regexp"),
		"entries":   entries(`/^ok@example\.com$/`, "ok", `/^(unclosed@example\.com$/`, "x"),
		"parameter": cty.StringVal("recipient_bcc_maps"),
	})
	if err := m.Validate(ctx, cfg); err != nil {
		t.Fatalf("Validate: %v; the pattern looks valid, only Postfix can tell", err)
	}
	tmpBefore := listDir(t, os.TempDir())
	before := observe(pf)(t)
	read, err := m.Read(ctx, resource.ReadRequest{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Plan(ctx, resource.PlanRequest{Config: cfg, Current: read.Current, Snapshot: read.Snapshot})
	var ae *resource.AttrError
	if !errors.As(err, &ae) {
		t.Fatalf("Plan: %v, want an attribute error", err)
	}
	if want := cty.GetAttrPath("entries").IndexInt(1).GetAttr("key"); !ae.Path.Equals(want) {
		t.Errorf("error at %#v, want entries[1].key", ae.Path)
	}
	if !strings.Contains(ae.Detail, "regexp map "+table+", line 3") {
		t.Errorf("detail %q does not quote postmap's warning about line 3", ae.Detail)
	}
	t.Logf("plan error: %s: %s", ae.Summary, ae.Detail)
	if diff := cmp.Diff(string(before), string(observe(pf)(t))); diff != "" {
		t.Errorf("plan changed the instance (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(tmpBefore, listDir(t, os.TempDir())); diff != "" {
		t.Errorf("plan left files in %s (-before +after):\n%s", os.TempDir(), diff)
	}
}

func listDir(t *testing.T, d string) []string {
	t.Helper()
	es, err := os.ReadDir(d)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if !strings.HasPrefix(e.Name(), "mailplan-postfix-") && !strings.HasPrefix(e.Name(), "Test") && !strings.HasPrefix(e.Name(), "go-build") {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestCheckFailureRollsBack: a value postfix check refuses fails the
// apply after main.cf was changed; the restore the engine then runs puts
// main.cf back byte for byte.
func TestCheckFailureRollsBack(t *testing.T) {
	t.Parallel()
	pf := instance(t, "old", "127.0.0.2")
	cf := postfix.NewConfig(newCounter(t))
	ctx := context.Background()
	cfg := resourcetest.Config(t, cf, map[string]cty.Value{
		"host": resourcetest.HostValue(t, localHost), "config_dir": cty.StringVal(pf.ConfigDir),
		"parameters": cty.MapVal(map[string]cty.Value{"message_size_limit": cty.StringVal("lots"), "delay_warning_time": cty.StringVal("4h")}),
	})
	before := observe(pf)(t)
	read, plan := resourcetest.ReadPlan(ctx, t, cf, cfg)
	j := &resourcetest.Journal{}
	_, err := cf.Apply(ctx, resource.ApplyRequest{Config: cfg, Current: read.Current, Planned: plan.Planned, Snapshot: read.Snapshot, Journal: j})
	if err == nil || !strings.Contains(err.Error(), "postfix check failed") || !strings.Contains(err.Error(), "message_size_limit") {
		logData, _ := os.ReadFile(pf.LogPath)
		t.Fatalf("apply: %v, want postfix check to fail on message_size_limit; maillog:\n%s", err, logData[max(0, len(logData)-2000):])
	}
	t.Logf("apply error: %v", err)
	if err := cf.Restore(ctx, resource.RestoreRequest{Config: cfg, Snapshot: read.Snapshot, Journal: j.Entries()}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(before), string(observe(pf)(t))); diff != "" {
		t.Errorf("after rollback (-before +after):\n%s", diff)
	}
	if !pf.Running() {
		t.Errorf("postfix stopped")
	}
}

// TestUnknownParameterAndMissingMainCF: plan-time errors that only the
// host can tell, on the attribute.
func TestUnknownParameterAndMissingMainCF(t *testing.T) {
	t.Parallel()
	pf := instance(t, "old", "127.0.0.2")
	ctx := context.Background()
	m := postfix.NewMap(newCounter(t))
	cf := postfix.NewConfig(newCounter(t))
	tests := []struct {
		name string
		typ  resource.Type
		cfg  cty.Value
		want cty.Path
	}{
		{"map parameter misspelt", m, mapConfig(t, m, localHost, pf, map[string]cty.Value{
			"path": cty.StringVal(filepath.Join(pf.ConfigDir, "bcc")), "type": cty.StringVal("hash"),
			"content": cty.StringVal("a b\n"), "parameter": cty.StringVal("recipent_bcc_maps"),
		}), cty.GetAttrPath("parameter")},
		{"config parameter misspelt", cf, resourcetest.Config(t, cf, map[string]cty.Value{
			"host": resourcetest.HostValue(t, localHost), "config_dir": cty.StringVal(pf.ConfigDir),
			"parameters": cty.MapVal(map[string]cty.Value{"mesage_size_limit": cty.StringVal("1")}),
		}), cty.GetAttrPath("parameters").Index(cty.StringVal("mesage_size_limit"))},
		{"no main.cf", m, mapConfig(t, m, localHost, pf, map[string]cty.Value{
			"path": cty.StringVal(filepath.Join(pf.ConfigDir, "bcc")), "type": cty.StringVal("hash"),
			"content": cty.StringVal("a b\n"), "config_dir": cty.StringVal(filepath.Join(pf.ConfigDir, "nowhere")),
		}), cty.GetAttrPath("config_dir")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			read, err := tt.typ.Read(ctx, resource.ReadRequest{Config: tt.cfg})
			if err != nil {
				t.Fatal(err)
			}
			_, err = tt.typ.Plan(ctx, resource.PlanRequest{Config: tt.cfg, Current: read.Current, Snapshot: read.Snapshot})
			ae, ok := err.(*resource.AttrError)
			if !ok {
				t.Fatalf("Plan: %v, want an *resource.AttrError", err)
			}
			if !ae.Path.Equals(tt.want) {
				t.Errorf("error at %#v, want %#v", ae.Path, tt.want)
			}
			t.Logf("%s: %s", ae.Summary, ae.Detail)
		})
	}
}

// TestMailFlowsThroughBCC: after apply, mail to user@example.com also
// goes to the address the table names, which the instance delivers; after
// restore it no longer does.
func TestMailFlowsThroughBCC(t *testing.T) {
	t.Parallel()
	testbed.Require(t, "swaks")
	pf := testbed.Postfix(t, testbed.PostfixOptions{Name: "old", Addr: "127.0.0.2"})
	m := postfix.NewMap(newCounter(t))
	ctx := context.Background()
	cfg := mapConfig(t, m, localHost, pf, map[string]cty.Value{
		"path": cty.StringVal(filepath.Join(pf.ConfigDir, "bcc")), "type": cty.StringVal("hash"),
		"entries":   entries("user@example.com", "alice@example.com"),
		"parameter": cty.StringVal("recipient_bcc_maps"),
	})
	read, plan := resourcetest.ReadPlan(ctx, t, m, cfg)
	j := &resourcetest.Journal{}
	if _, err := m.Apply(ctx, resource.ApplyRequest{Config: cfg, Current: read.Current, Planned: plan.Planned, Snapshot: read.Snapshot, Journal: j}); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("bcc-probe-%d", time.Now().UnixNano())
	if out, err := testbed.Swaks(t, pf.SMTPAddr(), "sender@example.com", "user@example.com", map[string]string{"Subject": id}, "hello"); err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	pf.WaitForMail(t, "user", id, 20*time.Second)
	pf.WaitForMail(t, "alice", id, 20*time.Second)
	if err := m.Restore(ctx, resource.RestoreRequest{Config: cfg, Snapshot: read.Snapshot, Journal: j.Entries()}); err != nil {
		t.Fatal(err)
	}
	if v := mainCFParam(t, pf, "recipient_bcc_maps"); v != "" {
		t.Errorf("after restore recipient_bcc_maps = %q", v)
	}
}

// The test binary must find postmap for observe even where /usr/sbin is
// not in PATH.
func init() {
	if _, err := exec.LookPath("postmap"); err != nil {
		os.Setenv("PATH", os.Getenv("PATH")+":/usr/sbin:/sbin")
	}
}
