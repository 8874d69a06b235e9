package service

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/transport"
)

var testHost = resource.Host{Name: "old", Transport: "local"}

// fakeHost is a transport.Host whose Run is a function; it records every
// argv. Only Name and Run may be called.
type fakeHost struct {
	transport.Host
	mu   sync.Mutex
	runs [][]string
	run  func(argv []string) (transport.Result, error)
}

func (f *fakeHost) Name() string { return `host "old"` }

func (f *fakeHost) Run(ctx context.Context, argv []string, opts transport.RunOptions) (transport.Result, error) {
	f.mu.Lock()
	f.runs = append(f.runs, append([]string(nil), argv...))
	f.mu.Unlock()
	return f.run(argv)
}

func (f *fakeHost) argvs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, a := range f.runs {
		if a[0] == "sh" && len(a) > 2 && a[2] == detectScript {
			out = append(out, "detect "+strings.Join(a[4:], " "))
			continue
		}
		out = append(out, strings.Join(a, " "))
	}
	return out
}

type fakeHosts struct{ h *fakeHost }

func (f fakeHosts) Get(context.Context, resource.Host) (transport.Host, error) { return f.h, nil }

// daemon is a fake service behind every manager: start and stop commands
// change it, status reports it. detected is what detection prints.
type daemon struct {
	mu       sync.Mutex
	running  bool
	detected string
	// lag is how many status checks after a start or stop still report
	// the old state; stuck makes start and stop have no effect.
	lag, pending int
	stuck        bool
}

func (d *daemon) run(argv []string) (transport.Result, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	cmd := strings.Join(argv, " ")
	switch {
	case argv[0] == "sh":
		return transport.Result{Stdout: []byte(d.detected + "\n")}, nil
	case strings.HasSuffix(cmd, " start") || strings.HasPrefix(cmd, "systemctl start"):
		if !d.stuck {
			d.running, d.pending = true, d.lag
		}
		return transport.Result{Stdout: []byte("starting")}, nil
	case strings.HasSuffix(cmd, " stop") || strings.HasPrefix(cmd, "systemctl stop"):
		if !d.stuck {
			d.running, d.pending = false, d.lag
		}
		return transport.Result{}, nil
	case strings.HasSuffix(cmd, " status") || strings.HasPrefix(cmd, "systemctl is-active"):
		up := d.running
		if d.pending > 0 {
			d.pending--
			up = !up
		}
		if up {
			return transport.Result{}, nil
		}
		return transport.Result{ExitCode: 3, Stderr: []byte("not running")}, nil
	}
	return transport.Result{}, errors.New("unexpected command " + cmd)
}

func list(s ...string) cty.Value {
	var vs []cty.Value
	for _, e := range s {
		vs = append(vs, cty.StringVal(e))
	}
	return cty.ListVal(vs)
}

func testConfig(t *testing.T, attrs map[string]cty.Value) cty.Value {
	t.Helper()
	if _, ok := attrs["host"]; !ok {
		attrs["host"] = resourcetest.HostValue(t, testHost)
	}
	return resourcetest.Config(t, New(nil), attrs)
}

var commands = map[string]cty.Value{
	"manager":        cty.StringVal("command"),
	"start_command":  list("svc", "start"),
	"stop_command":   list("svc", "stop"),
	"status_command": list("svc", "status"),
}

func with(base map[string]cty.Value, kv ...any) map[string]cty.Value {
	out := map[string]cty.Value{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1].(cty.Value)
	}
	return out
}

func TestValidate(t *testing.T) {
	base := map[string]cty.Value{"service": cty.StringVal("postfix"), "state": cty.StringVal("running")}
	tests := []struct {
		name  string
		attrs map[string]cty.Value
		want  []string // "path: summary"
	}{
		{"detected manager", base, nil},
		{"systemd", with(base, "manager", cty.StringVal("systemd")), nil},
		{"sysv stopped", with(base, "manager", cty.StringVal("sysv"), "state", cty.StringVal("stopped")), nil},
		{"command", with(with(base), "manager", commands["manager"], "start_command", commands["start_command"],
			"stop_command", commands["stop_command"], "status_command", commands["status_command"]), nil},
		{"unit suffix", with(base, "service", cty.StringVal("postfix@-.service")), nil},
		{"empty name", with(base, "service", cty.StringVal("")), []string{"service: Invalid service name"}},
		{"slash", with(base, "service", cty.StringVal("../postfix")), []string{"service: Invalid service name"}},
		{"space", with(base, "service", cty.StringVal("post fix")), []string{"service: Invalid service name"}},
		{"newline", with(base, "service", cty.StringVal("postfix\n")), []string{"service: Invalid service name"}},
		{"option", with(base, "service", cty.StringVal("--all")), []string{"service: Invalid service name"}},
		{"dot", with(base, "service", cty.StringVal("..")), []string{"service: Invalid service name"}},
		{"bad state", with(base, "state", cty.StringVal("started")), []string{"state: Invalid service state"}},
		{"bad manager", with(base, "manager", cty.StringVal("upstart")), []string{"manager: Invalid service manager"}},
		{"command without commands", with(base, "manager", cty.StringVal("command")), []string{
			"start_command: Missing start_command", "stop_command: Missing stop_command", "status_command: Missing status_command"}},
		{"command missing status", with(base, "manager", cty.StringVal("command"), "start_command", list("a"), "stop_command", list("b")),
			[]string{"status_command: Missing status_command"}},
		{"commands without manager", with(base, "status_command", list("true")),
			[]string{`status_command: Command without manager = "command"`}},
		{"commands with systemd", with(base, "manager", cty.StringVal("systemd"), "start_command", list("true")),
			[]string{`start_command: Command without manager = "command"`}},
		{"empty command", with(base, "manager", cty.StringVal("command"), "start_command", cty.ListValEmpty(cty.String),
			"stop_command", list("b"), "status_command", list("c")), []string{"start_command: Empty start_command"}},
		{"empty program", with(base, "manager", cty.StringVal("command"), "start_command", list(" ", "x"),
			"stop_command", list("b"), "status_command", list("c")), []string{"start_command: Invalid start_command"}},
		{"unknown manager", with(base, "manager", cty.UnknownVal(cty.String), "status_command", list("c")), nil},
		{"unknown name", with(base, "service", cty.UnknownVal(cty.String)), nil},
		{"two problems", with(base, "service", cty.StringVal("a b"), "state", cty.StringVal("up")),
			[]string{"service: Invalid service name", "state: Invalid service state"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := New(nil).Validate(context.Background(), testConfig(t, tt.attrs))
			var got []string
			var aes resource.AttrErrors
			if errors.As(err, &aes) {
				for _, ae := range aes {
					got = append(got, pathName(ae.Path)+": "+ae.Summary)
				}
			} else if err != nil {
				t.Fatalf("error %v is not AttrErrors", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func pathName(p cty.Path) string {
	if len(p) > 0 {
		if ga, ok := p[0].(cty.GetAttrStep); ok {
			return ga.Name
		}
	}
	return "?"
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		exit    int
		runErr  error
		want    string
		wantErr string
	}{
		{name: "systemd", out: "systemd\n", want: "systemd"},
		{name: "sysv", out: "sysv\n", want: "sysv"},
		{name: "neither", out: "", wantErr: `Service manager not detected: mailplan cannot tell how postfix is started on host "old"`},
		{name: "garbage", out: "upstart\n", wantErr: `unexpected output "upstart"`},
		{name: "sh fails", exit: 2, out: "", wantErr: "sh -c"},
		{name: "connection lost", runErr: errors.New("connection lost"), wantErr: "connection lost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &fakeHost{run: func(argv []string) (transport.Result, error) {
				return transport.Result{Stdout: []byte(tt.out), ExitCode: tt.exit}, tt.runErr
			}}
			got, err := detect(context.Background(), h, "postfix")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("manager %q, want %q", got, tt.want)
			}
			want := [][]string{{"sh", "-c", detectScript, "sh", "/run/systemd/system", "/etc/init.d/postfix"}}
			if diff := cmp.Diff(want, h.runs); diff != "" {
				t.Errorf("commands run (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("neither is an attribute error", func(t *testing.T) {
		h := &fakeHost{run: func([]string) (transport.Result, error) { return transport.Result{}, nil }}
		_, err := detect(context.Background(), h, "postfix")
		var ae *resource.AttrError
		if !errors.As(err, &ae) || pathName(ae.Path) != "manager" || !strings.Contains(ae.Detail, `manager = "command"`) {
			t.Errorf("error %#v, want an AttrError on manager telling to set manager = \"command\"", err)
		}
	})
}

// TestDetectScript runs the detection script with /bin/sh against
// stand-ins for /run/systemd/system, /etc/init.d/NAME and the PATH.
func TestDetectScript(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	tests := []struct {
		name                           string
		systemdDir, initScript, onPath bool
		want                           string
	}{
		{"systemd", true, true, true, "systemd"},
		{"systemd only", true, false, false, "systemd"},
		{"sysv", false, true, true, "sysv"},
		{"script without service command", false, true, false, ""},
		{"service command without script", false, false, true, ""},
		{"nothing", false, false, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			sd, script, bin := filepath.Join(dir, "systemd"), filepath.Join(dir, "init.d", "postfix"), filepath.Join(dir, "bin")
			for _, d := range []string{filepath.Dir(script), bin} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if tt.systemdDir {
				if err := os.Mkdir(sd, 0o755); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(sd, nil, 0o644); err != nil { // a file is not systemd
				t.Fatal(err)
			}
			if tt.initScript {
				if err := os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if tt.onPath {
				if err := os.WriteFile(filepath.Join(bin, "service"), []byte("#!/bin/sh\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(sh, "-c", detectScript, "sh", sd, script)
			cmd.Env = []string{"PATH=" + bin}
			out, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(string(out)); got != tt.want {
				t.Errorf("printed %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLifecycle(t *testing.T) {
	defer func(d time.Duration) { settleTimeout = d }(settleTimeout)
	settleTimeout = 300 * time.Millisecond
	base := map[string]cty.Value{"service": cty.StringVal("postfix"), "state": cty.StringVal("running")}
	tests := []struct {
		name      string
		attrs     map[string]cty.Value
		d         *daemon
		wantMgr   string
		summary   string
		plan      []string // commands run by Read and Plan
		apply     []string // by Apply
		applyErr  string
		restore   []string // by Restore to the Read's snapshot, twice
		noRestore bool
	}{
		{
			name: "systemd detected", attrs: base, d: &daemon{detected: "systemd"},
			wantMgr: "systemd", summary: "start postfix (systemd)",
			plan:    []string{"detect /run/systemd/system /etc/init.d/postfix", "systemctl is-active --quiet postfix"},
			apply:   []string{"systemctl is-active --quiet postfix", "systemctl start postfix", "systemctl is-active --quiet postfix"},
			restore: []string{"systemctl is-active --quiet postfix", "systemctl stop postfix", "systemctl is-active --quiet postfix", "systemctl is-active --quiet postfix"},
		},
		{
			name: "sysv given, slow to start", attrs: with(base, "manager", cty.StringVal("sysv")), d: &daemon{lag: 2},
			wantMgr: "sysv", summary: "start postfix (sysv)",
			plan:    []string{"service postfix status"},
			apply:   []string{"service postfix status", "service postfix start", "service postfix status", "service postfix status", "service postfix status"},
			restore: []string{"service postfix status", "service postfix stop", "service postfix status", "service postfix status", "service postfix status", "service postfix status"},
		},
		{
			name: "command stop", attrs: with(commands, "service", cty.StringVal("postfix"), "state", cty.StringVal("stopped")), d: &daemon{running: true},
			wantMgr: "command", summary: "stop postfix (command)",
			plan:    []string{"svc status"},
			apply:   []string{"svc status", "svc stop", "svc status"},
			restore: []string{"svc status", "svc start", "svc status", "svc status"},
		},
		{
			name: "already running", attrs: with(base, "manager", cty.StringVal("systemd")), d: &daemon{running: true},
			wantMgr: "systemd",
			plan:    []string{"systemctl is-active --quiet postfix"},
			apply:   []string{"systemctl is-active --quiet postfix"},
			restore: []string{"systemctl is-active --quiet postfix", "systemctl is-active --quiet postfix"},
		},
		{
			name: "never starts", attrs: with(base, "manager", cty.StringVal("systemd")), d: &daemon{stuck: true},
			wantMgr: "systemd", summary: "start postfix (systemd)",
			plan:      []string{"systemctl is-active --quiet postfix"},
			applyErr:  `start postfix on host "old" (systemd): still not running after 300ms; systemctl start postfix printed: starting; systemctl is-active --quiet postfix exited 3: not running`,
			noRestore: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			h := &fakeHost{run: tt.d.run}
			typ := New(fakeHosts{h})
			cfg := testConfig(t, tt.attrs)
			read, plan := resourcetest.ReadPlan(ctx, t, typ, cfg)
			if got := plan.Planned.GetAttr("manager").AsString(); got != tt.wantMgr {
				t.Errorf("planned manager %q, want %q", got, tt.wantMgr)
			}
			if plan.Summary != tt.summary {
				t.Errorf("summary %q, want %q", plan.Summary, tt.summary)
			}
			if changed := !plan.Planned.RawEquals(read.Current); changed != (tt.summary != "") {
				t.Errorf("planned differs from current: %v, want %v", changed, tt.summary != "")
			}
			if diff := cmp.Diff(tt.plan, h.argvs()); diff != "" {
				t.Errorf("read and plan ran (-want +got):\n%s", diff)
			}
			h.runs = nil
			_, err := typ.Apply(ctx, resource.ApplyRequest{Config: cfg, Current: read.Current, Planned: plan.Planned, Snapshot: read.Snapshot, Journal: &resourcetest.Journal{}})
			if tt.applyErr != "" {
				if err == nil || err.Error() != tt.applyErr {
					t.Fatalf("apply error:\n%v\nwant:\n%s", err, tt.applyErr)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if diff := cmp.Diff(tt.apply, h.argvs()); diff != "" {
				t.Errorf("apply ran (-want +got):\n%s", diff)
			}
			if tt.noRestore {
				return
			}
			h.runs = nil
			for range 2 {
				if err := typ.Restore(ctx, resource.RestoreRequest{Config: cfg, Snapshot: read.Snapshot}); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(tt.restore, h.argvs()); diff != "" {
				t.Errorf("restore ran (-want +got):\n%s", diff)
			}
		})
	}
}

func TestApplyCanceled(t *testing.T) {
	h := &fakeHost{run: (&daemon{stuck: true}).run}
	typ := New(fakeHosts{h})
	cfg := testConfig(t, with(map[string]cty.Value{"service": cty.StringVal("postfix"), "state": cty.StringVal("running")}, "manager", cty.StringVal("systemd")))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := typ.Apply(ctx, resource.ApplyRequest{Config: cfg, Planned: cfg, Journal: &resourcetest.Journal{}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the context's", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s after the context ended", d)
	}
}

func TestPlanWithoutCurrentDetects(t *testing.T) {
	h := &fakeHost{run: (&daemon{detected: "sysv"}).run}
	cfg := testConfig(t, map[string]cty.Value{"service": cty.StringVal("dovecot"), "state": cty.StringVal("stopped")})
	plan, err := New(fakeHosts{h}).Plan(context.Background(), resource.PlanRequest{Config: cfg, Current: cty.NullVal(schema.ImpliedType())})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("stop dovecot (sysv)", plan.Summary); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff([]string{"detect /run/systemd/system /etc/init.d/dovecot"}, h.argvs()); diff != "" {
		t.Error(diff)
	}
}

func TestClaims(t *testing.T) {
	ssh := resource.Host{Name: "old", Transport: "ssh", Address: "192.0.2.1", Port: 22, User: "root"}
	claim := func(h resource.Host, name string) string {
		cfg := testConfig(t, map[string]cty.Value{"host": resourcetest.HostValue(t, h), "service": cty.StringVal(name), "state": cty.StringVal("running")})
		cs := New(nil).Claims(cfg)
		if len(cs) != 1 {
			t.Fatalf("%d claims", len(cs))
		}
		return cs[0].Key
	}
	tests := []struct {
		name string
		a, b string
		ha   resource.Host
		same bool
	}{
		{"same service", "postfix", "postfix", ssh, true},
		{"unit suffix", "postfix", "postfix.service", ssh, true},
		{"other service", "postfix", "dovecot", ssh, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := claim(tt.ha, tt.a) == claim(ssh, tt.b); got != tt.same {
				t.Errorf("same claim %v, want %v", got, tt.same)
			}
		})
	}
	if claim(ssh, "postfix") == claim(testHost, "postfix") {
		t.Error("one service on two hosts claims the same")
	}
}
