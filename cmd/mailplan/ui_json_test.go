package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine"
	"github.com/mailplan/mailplan/engine/resource"
)

// stepType is a resource type for the JSON stream tests that needs no
// server: a file on this machine whose Apply can first ask for a short
// wait, report progress, or fail.
type stepType struct{}

var _ resource.Type = stepType{}

func (stepType) Name() string { return "test_step" }

func (stepType) Schema() *resource.Schema {
	return &resource.Schema{Attributes: map[string]*resource.Attribute{
		"path":     {Type: cty.String, Required: true, ForceNew: true},
		"content":  {Type: cty.String, Required: true},
		"wait_ms":  {Type: cty.Number},
		"progress": {Type: cty.Number},
		"fail":     {Type: cty.Bool},
	}}
}

func (t stepType) Read(ctx context.Context, req resource.ReadRequest) (resource.ReadResponse, error) {
	path := req.Config.GetAttr("path").AsString()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return resource.ReadResponse{Current: cty.NullVal(t.Schema().ImpliedType()), Snapshot: []byte(`null`)}, nil
	}
	if err != nil {
		return resource.ReadResponse{}, err
	}
	snap, _ := json.Marshal(string(b))
	cur := cty.ObjectVal(map[string]cty.Value{
		"path": cty.StringVal(path), "content": cty.StringVal(string(b)),
		"wait_ms": req.Config.GetAttr("wait_ms"), "progress": req.Config.GetAttr("progress"), "fail": req.Config.GetAttr("fail"),
	})
	return resource.ReadResponse{Current: cur, Snapshot: snap}, nil
}

func (stepType) Plan(ctx context.Context, req resource.PlanRequest) (resource.PlanResponse, error) {
	return resource.PlanResponse{Planned: req.Config}, nil
}

func (stepType) Apply(ctx context.Context, req resource.ApplyRequest) (resource.ApplyResponse, error) {
	cfg := req.Planned
	if w := cfg.GetAttr("wait_ms"); !w.IsNull() && req.Resume == nil {
		ms, _ := w.AsBigFloat().Int64()
		return resource.ApplyResponse{Wait: &resource.Wait{Until: time.Now().Add(time.Duration(ms) * time.Millisecond), Reason: "TTL hold", Resume: []byte("1")}}, nil
	}
	if p := cfg.GetAttr("progress"); !p.IsNull() && req.Progress != nil {
		n, _ := p.AsBigFloat().Int64()
		req.Progress.Total(n, "bytes")
		for range n {
			req.Progress.Add(1)
		}
	}
	if f := cfg.GetAttr("fail"); !f.IsNull() && f.True() {
		return resource.ApplyResponse{}, errors.New("injected failure")
	}
	return resource.ApplyResponse{}, os.WriteFile(cfg.GetAttr("path").AsString(), []byte(cfg.GetAttr("content").AsString()), 0o644)
}

func (stepType) Restore(ctx context.Context, req resource.RestoreRequest) error {
	path := req.Config.GetAttr("path").AsString()
	var before *string
	if err := json.Unmarshal(req.Snapshot, &before); err != nil {
		return err
	}
	if before == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	return os.WriteFile(path, []byte(*before), 0o644)
}

// gateType is a gate (resource.Checker) that changes nothing: its plan
// is always a no-op, and its check passes when open is true.
type gateType struct{}

var (
	_ resource.Type    = gateType{}
	_ resource.Checker = gateType{}
)

func (gateType) Name() string { return "test_gate" }
func (gateType) Schema() *resource.Schema {
	return &resource.Schema{Attributes: map[string]*resource.Attribute{"open": {Type: cty.Bool, Required: true}}}
}
func (gateType) Read(ctx context.Context, req resource.ReadRequest) (resource.ReadResponse, error) {
	return resource.ReadResponse{Current: req.Config, Snapshot: []byte(`{}`)}, nil
}
func (gateType) Plan(ctx context.Context, req resource.PlanRequest) (resource.PlanResponse, error) {
	return resource.PlanResponse{Planned: req.Config}, nil
}
func (g gateType) Apply(ctx context.Context, req resource.ApplyRequest) (resource.ApplyResponse, error) {
	return resource.ApplyResponse{}, g.Check(ctx, req)
}
func (gateType) Restore(ctx context.Context, req resource.RestoreRequest) error { return nil }
func (gateType) Check(ctx context.Context, req resource.ApplyRequest) error {
	if !req.Config.GetAttr("open").True() {
		return errors.New("the queue is not empty")
	}
	return nil
}

// TestJSONStreamEngine runs apply -json's UI through the engine with the
// test types above, for what the file resource never does: an inline
// wait, a gate passing and failing (then a rollback), progress. Each
// case's stream is checked line by line and compared with
// testdata/json/NAME.jsonl (rewrite with -update).
func TestJSONStreamEngine(t *testing.T) {
	tests := []struct {
		name, plan string
		fails      bool
		// maxWait is apply -max-wait; 0 means a minute.
		maxWait time.Duration
	}{
		{name: "wait", plan: `
resource "test_step" "mx" {
  path    = "${path.module}/mx"
  content = "switched"
  wait_ms = 30
}`},
		{name: "wait_persisted", maxWait: time.Millisecond, plan: `
resource "test_step" "mx" {
  path    = "${path.module}/mx"
  content = "switched"
  wait_ms = 3600000
}`},
		{name: "gate", plan: `
resource "test_step" "before" {
  path    = "${path.module}/before"
  content = "b"
}
resource "test_gate" "queue" {
  open       = true
  depends_on = [test_step.before]
}`},
		{name: "gate_failed", fails: true, plan: `
resource "test_step" "before" {
  path    = "${path.module}/before"
  content = "b"
}
resource "test_gate" "queue" {
  open       = false
  depends_on = [test_step.before]
}
resource "test_step" "after" {
  path       = "${path.module}/after"
  content    = "a"
  depends_on = [test_gate.queue]
}`},
		{name: "copy_progress", plan: `
resource "test_step" "copy" {
  path     = "${path.module}/copy"
  content  = "c"
  progress = 3
}`},
		{name: "failed", fails: true, plan: `
resource "test_step" "a" {
  path    = "${path.module}/a"
  content = "a"
}
resource "test_step" "b" {
  path    = "${path.module}/b"
  content = "b"
  fail    = true
  depends_on = [test_step.a]
}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "main.mp.hcl"), []byte(tt.plan), 0o644); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			c := &cli{stdout: &out, stderr: &out, startChanges: func() bool { return true }}
			u := c.jsonUI("apply")
			// Every change is reported at once: progress lines would
			// depend on the machine's speed.
			u.copyEvery, u.progressEvery = 0, 0
			maxWait := tt.maxWait
			if maxWait == 0 {
				maxWait = time.Minute
			}
			e := &engine.Engine{Registry: resource.NewRegistry(stepType{}, gateType{})}
			res := e.Apply(context.Background(), engine.ApplyRequest{
				Options:     engine.Options{Dir: dir, Operation: "apply", Parallelism: 1, MaxWait: maxWait},
				AutoApprove: true,
			}, u)
			u.finish(res)
			if failed := res.Status == engine.Failed; failed != tt.fails {
				t.Errorf("failed: %v, want %v\n%s", failed, tt.fails, out.String())
			}
			got, err := checkStream(out.String(), dir)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "json", tt.name+".jsonl")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(got, "\n")); d != "" {
				t.Errorf("stream differs from %s (-want +got):\n%s", golden, d)
			}
		})
	}
}

// fixedClock is a clock a test moves.
type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fixedClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testJSONUI is a jsonUI writing to a buffer, on a clock the test moves.
func testJSONUI(op string) (*jsonUI, *syncBuffer, *fixedClock) {
	var out syncBuffer
	clock := &fixedClock{t: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}
	c := &cli{stdout: &out, stderr: &out, startChanges: func() bool { return true }}
	u := c.jsonUI(op)
	u.now = clock.now
	return u, &out, clock
}

// syncBuffer is a bytes.Buffer safe for the ticker's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// messages checks the stream and returns each line's type and message.
func messages(t *testing.T, out string) []string {
	t.Helper()
	if _, err := checkStream(out, ""); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		_ = json.Unmarshal([]byte(line), &m)
		got = append(got, m["type"].(string)+" "+m["@message"].(string))
	}
	return got
}

// The typed steps the engine reports become messages, each with
// the elapsed time of its step on the UI's clock.
func TestJSONUIStatus(t *testing.T) {
	until := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		op    string
		calls func(u *jsonUI, clock *fixedClock)
		want  []string
	}{
		{name: "change", op: "apply", calls: func(u *jsonUI, clock *fixedClock) {
			u.Event("file.x", engine.Event{Kind: engine.EventStart, Action: "create"})
			clock.add(3 * time.Second)
			u.Event("file.x", engine.Event{Text: "Running after_apply hook on host \"x\" (local): [true]"})
			u.Event("file.x", engine.Event{Kind: engine.EventComplete, Action: "create", Elapsed: 3 * time.Second})
		}, want: []string{
			"apply_start file.x: Creating...",
			`resource_status file.x: Running after_apply hook on host "x" (local): [true]`,
			"apply_complete file.x: Creation complete after 3s",
		}},
		{name: "inline wait", op: "apply", calls: func(u *jsonUI, clock *fixedClock) {
			u.Event("dns_record.mx", engine.Event{Kind: engine.EventStart, Action: "update"})
			u.Waiting("dns_record.mx", until, "TTL 300 of the old MX")
			clock.add(time.Hour)
			u.Event("dns_record.mx", engine.Event{Kind: engine.EventComplete, Action: "update", Elapsed: time.Hour})
		}, want: []string{
			"apply_start dns_record.mx: Modifying...",
			"wait dns_record.mx: Waiting until 2026-11-30T10:00:00Z (TTL 300 of the old MX)",
			"apply_complete dns_record.mx: Modifications complete after 3600s",
		}},
		{name: "persisted wait", op: "apply", calls: func(u *jsonUI, clock *fixedClock) {
			u.Event("dns_record.mx", engine.Event{Kind: engine.EventStart, Action: "update"})
			u.Event("dns_record.mx", engine.Event{Kind: engine.EventWaiting, Action: "update", Until: until, Reason: "TTL 86400 of the old MX"})
		}, want: []string{
			"apply_start dns_record.mx: Modifying...",
			"wait dns_record.mx: Waiting until 2026-11-30T10:00:00Z (TTL 86400 of the old MX)",
		}},
		{name: "gate", op: "apply", calls: func(u *jsonUI, clock *fixedClock) {
			u.Event("postfix_queue.old", engine.Event{Kind: engine.EventCheck})
			u.Event("postfix_queue.old", engine.Event{Kind: engine.EventCheckPassed})
		}, want: []string{
			"gate postfix_queue.old: Checking...",
			"gate postfix_queue.old: Check passed",
		}},
		{name: "rollback after a failure", op: "apply", calls: func(u *jsonUI, clock *fixedClock) {
			u.Event("file.a", engine.Event{Kind: engine.EventStart, Action: "update"})
			u.Event("file.a", engine.Event{Kind: engine.EventComplete, Action: "update"})
			u.Event("file.b", engine.Event{Kind: engine.EventStart, Action: "create"})
			u.Event("postfix_queue.old", engine.Event{Kind: engine.EventCheck})
			clock.add(2 * time.Second)
			u.Event("file.b", engine.Event{Kind: engine.EventFailed, Action: "create", Elapsed: 2 * time.Second, Err: errors.New("disk full")})
			u.Event("postfix_queue.old", engine.Event{Kind: engine.EventCheckFailed, Err: errors.New("3 messages left")})
			u.Event("file.a", engine.Event{Kind: engine.EventRollbackStart})
			clock.add(time.Second)
			u.Event("file.a", engine.Event{Kind: engine.EventRollbackFailed, Err: errors.New("host down")})
		}, want: []string{
			"apply_start file.a: Modifying...",
			"apply_complete file.a: Modifications complete after 0s",
			"apply_start file.b: Creating...",
			"gate postfix_queue.old: Checking...",
			"apply_errored file.b: Creation errored after 2s: disk full",
			"gate postfix_queue.old: Check failed: 3 messages left",
			"rollback_start file.a: Rolling back...",
			"rollback_errored file.a: Rollback errored after 1s: host down",
		}},
		{name: "say and notice", op: "rollback", calls: func(u *jsonUI, clock *fixedClock) {
			u.Say("\n")
			u.Say("Nothing to roll back.\n")
			u.Notice("\nRollback stopped by an interrupt before changing anything.\n")
		}, want: []string{
			"log Nothing to roll back.",
			"log Rollback stopped by an interrupt before changing anything.",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, out, clock := testJSONUI(tt.op)
			u.progressEvery = 0
			tt.calls(u, clock)
			got := messages(t, out.String())[1:]
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("messages (-want +got):\n%s", d)
			}
		})
	}
}

// A change in flight gets apply_progress messages until it ends, and
// none after.
func TestJSONUIApplyProgress(t *testing.T) {
	u, out, _ := testJSONUI("apply")
	u.progressEvery = time.Millisecond
	u.Event("mailbox_copy.inbox", engine.Event{Kind: engine.EventStart, Action: "create"})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), `"type":"apply_progress"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no apply_progress:\n%s", out.String())
		}
		time.Sleep(time.Millisecond)
	}
	u.Event("mailbox_copy.inbox", engine.Event{Kind: engine.EventComplete, Action: "create"})
	n := strings.Count(out.String(), "\n")
	time.Sleep(20 * time.Millisecond)
	got := messages(t, out.String())
	if len(got) != n || got[n-1] != "apply_complete mailbox_copy.inbox: Creation complete after 0s" {
		t.Errorf("messages after the step ended:\n%s", strings.Join(got[n-1:], "\n"))
	}
}

// A progress sink writes when the total is known, then at most once per
// copyEvery, and when it is done.
func TestJSONUICopyProgress(t *testing.T) {
	u, out, clock := testJSONUI("apply")
	u.copyEvery = time.Second
	p := u.Progress("mailbox_copy.inbox")
	p.Total(3000, "bytes")
	p.Add(1000) // within a second: not written
	clock.add(time.Second)
	p.Add(1000)
	p.Add(1000) // done: written at once
	want := []string{
		"copy_progress mailbox_copy.inbox: 0 of 3000 bytes (0%)",
		"copy_progress mailbox_copy.inbox: 2000 of 3000 bytes (66%)",
		"copy_progress mailbox_copy.inbox: 3000 of 3000 bytes (100%)",
	}
	if d := cmp.Diff(want, messages(t, out.String())[1:]); d != "" {
		t.Errorf("messages (-want +got):\n%s", d)
	}
}
