package postfix_test

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/resources/postfix"
	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/testbed"
	"github.com/mailplan/mailplan/resources/transport/keep"
)

// The shared conformance suite (resourcetest.Conformance) for the three
// Postfix types, each on its own test bed instance, with a failure
// injected at every operation and every journal point of an apply. The
// fixtures are small (one table of two entries, two parameters): the
// fault loops apply once per operation.

// faultPool is a connection pool whose hosts go through a new injector.
func faultPool(t *testing.T) (postfix.Hosts, *resourcetest.Faults) {
	p := resourcetest.Pool(t)
	f := resourcetest.NewFaults()
	return f.Getter(p), f
}

// settleMainCF backdates main.cf after each apply and restore, so that
// the next Postfix command need not wait for it to settle.
func settleMainCF(pf *testbed.PostfixInstance) func(testing.TB) {
	return func(t testing.TB) { backdate(t, filepath.Join(pf.ConfigDir, "main.cf")) }
}

// observeWithDirs is observe and the directories of the configuration
// directory, with their modes: a restore must also remove a directory
// an apply created. The kept copies' directories are left out.
func observeWithDirs(pf *testbed.PostfixInstance) func(testing.TB) []byte {
	return func(t testing.TB) []byte {
		t.Helper()
		out := observe(pf)(t)
		err := filepath.WalkDir(pf.ConfigDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return err
			}
			if d.Name() == keep.Dir {
				return filepath.SkipDir
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(pf.ConfigDir, p)
			out = fmt.Appendf(out, "== dir %s %v\n", rel, fi.Mode())
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
}

func TestMapSuite(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		table string // relative to the configuration directory
		bug   string // why the case is skipped: a known failure
	}{
		{"existing table, already listed", "transport", ""},
		{"new table", "transport_new", ""},
		{"new table in a new directory", "migration/transport", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.bug != "" {
				t.Skip(tc.bug)
			}
			t.Parallel()
			pf := instance(t, "old", "127.0.0.2")
			hosts, faults := faultPool(t)
			m := postfix.NewMap(hosts)
			table := filepath.Join(pf.ConfigDir, tc.table)
			cfg := func(kv ...string) cty.Value {
				return mapConfig(t, m, localHost, pf, map[string]cty.Value{
					"path": cty.StringVal(table), "type": cty.StringVal("hash"),
					"entries": entries(kv...), "parameter": cty.StringVal("transport_maps"),
				})
			}
			resourcetest.Conformance(t, resourcetest.Suite{
				Type:    m,
				Create:  cfg("example.com", "smtp:[127.0.0.3]:25", "example.org", "error:gone"),
				Update:  cfg("example.com", "smtp:[127.0.0.4]:25"),
				Observe: observeWithDirs(pf),
				Faults:  faults,
				Settle:  settleMainCF(pf),
			})
		})
	}
}

func TestConfigSuite(t *testing.T) {
	t.Parallel()
	pf := instance(t, "old", "127.0.0.2")
	hosts, faults := faultPool(t)
	cf := postfix.NewConfig(hosts)
	cfg := configParams(t, cf, localHost, pf)
	resourcetest.Conformance(t, resourcetest.Suite{
		Type: cf,
		// message_size_limit is set in main.cf (as "name=value"),
		// delay_warning_time is not.
		Create:  cfg(map[string]string{"message_size_limit": "51200000", "delay_warning_time": "4h"}),
		Update:  cfg(map[string]string{"message_size_limit": "10240000", "delay_warning_time": "4h"}),
		Observe: observeWithDirs(pf),
		Faults:  faults,
		Settle:  settleMainCF(pf),
	})
}

// TestQueueSuite: the gate on an empty queue. Read and Plan change
// nothing, Restore is a no-op, and an Apply or Check whose look at the
// queue fails fails, changing nothing.
func TestQueueSuite(t *testing.T) {
	t.Parallel()
	pf := testbed.Postfix(t, testbed.PostfixOptions{Name: "old", Addr: "127.0.0.23"})
	hosts, faults := faultPool(t)
	q := postfix.NewQueue(hosts)
	cfg := resourcetest.Config(t, q, map[string]cty.Value{
		"host": resourcetest.HostValue(t, localHost), "config_dir": cty.StringVal(pf.ConfigDir), "timeout": cty.StringVal("10s"),
	})
	resourcetest.Conformance(t, resourcetest.Suite{
		Type:   q,
		Create: cfg,
		// The instance's configuration, and whether its queue is empty.
		Observe: func(t testing.TB) []byte {
			return fmt.Appendf(observeWithDirs(pf)(t), "== queue empty: %v\n", pf.QueueEmpty(t))
		},
		Faults: faults,
	})
}
