package postfix

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"

	"github.com/mailplan/mailplan/engine/resource"
)

// Lines as Postfix 3.7 prints them with postqueue -j.
const (
	jsonDeferred = `{"queue_name": "deferred", "queue_id": "4B6F81C0C9", "arrival_time": 1764442800, "message_size": 412, "forced_expire": false, "sender": "alice@example.net", "recipients": [{"address": "user@example.org", "delay_reason": "connect to 127.0.0.3[127.0.0.3]:2525: Connection refused"}]}`
	jsonMulti    = `{"queue_name": "active", "queue_id": "3D2A41C0C8", "arrival_time": 1764442700, "message_size": 900, "forced_expire": false, "sender": "bob@example.net", "recipients": [{"address": "a@example.com"}, {"address": "b@example.org", "delay_reason": "deferred"}]}`
)

func TestParseQueue(t *testing.T) {
	deferred := queuedMessage{QueueName: "deferred", QueueID: "4B6F81C0C9", ArrivalTime: 1764442800, MessageSize: 412,
		Sender:     "alice@example.net",
		Recipients: []queuedRcpt{{Address: "user@example.org", DelayReason: "connect to 127.0.0.3[127.0.0.3]:2525: Connection refused"}}}
	multi := queuedMessage{QueueName: "active", QueueID: "3D2A41C0C8", ArrivalTime: 1764442700, MessageSize: 900,
		Sender:     "bob@example.net",
		Recipients: []queuedRcpt{{Address: "a@example.com"}, {Address: "b@example.org", DelayReason: "deferred"}}}
	tests := []struct {
		name    string
		out     string
		want    []queuedMessage
		wantErr string
	}{
		{name: "empty queue", out: "", want: nil},
		{name: "blank lines", out: "\n\n", want: nil},
		{name: "one message", out: jsonDeferred + "\n", want: []queuedMessage{deferred}},
		{name: "multi-recipient message", out: jsonDeferred + "\n" + jsonMulti + "\n", want: []queuedMessage{deferred, multi}},
		{name: "no final newline", out: jsonMulti, want: []queuedMessage{multi}},
		{name: "unknown fields ignored", out: `{"queue_id": "A1", "arrival_time": 5, "new_field": [1,2], "recipients": []}`,
			want: []queuedMessage{{QueueID: "A1", ArrivalTime: 5, Recipients: []queuedRcpt{}}}},
		{name: "malformed line", out: jsonDeferred + "\n{\"queue_id\": \"X\", \n", wantErr: "line 2"},
		{name: "not json", out: "postqueue: warning: something\n", wantErr: "line 1"},
		{name: "no queue id", out: `{"queue_name": "active"}`, wantErr: "no queue_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseQueue([]byte(tt.out))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseQueue: error %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(queuedMessage{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("parseQueue (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMatching(t *testing.T) {
	msgs, err := parseQueue([]byte(jsonDeferred + "\n" + jsonMulti + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	ids := func(ms []queuedMessage) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.QueueID)
		}
		return out
	}
	tests := []struct {
		re   string
		want []string
	}{
		{re: "", want: []string{"3D2A41C0C8", "4B6F81C0C9"}}, // every message, oldest first
		{re: `@example\.org$`, want: []string{"3D2A41C0C8", "4B6F81C0C9"}},
		{re: `^a@example\.com$`, want: []string{"3D2A41C0C8"}},
		{re: `^user@`, want: []string{"4B6F81C0C9"}},
		{re: `@example\.net$`, want: nil}, // senders do not count
	}
	for _, tt := range tests {
		var re *regexp.Regexp
		if tt.re != "" {
			re = regexp.MustCompile(tt.re)
		}
		if diff := cmp.Diff(tt.want, ids(matching(msgs, re))); diff != "" {
			t.Errorf("matching %q (-want +got):\n%s", tt.re, diff)
		}
	}
}

func queueConfigValue(t *testing.T, attrs map[string]cty.Value) cty.Value {
	t.Helper()
	host, err := gocty.ToCtyValue(resource.Host{Name: "old", Transport: "local"}, resource.HostType)
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]cty.Value{
		"host":       host,
		"config_dir": cty.StringVal(DefaultConfigDir),
		"recipients": cty.NullVal(cty.String),
		"timeout":    cty.StringVal(DefaultQueueTimeout),
		"count":      cty.NullVal(cty.Number),
	}
	for k, v := range attrs {
		vals[k] = v
	}
	return cty.ObjectVal(vals)
}

func TestQueueValidate(t *testing.T) {
	q := NewQueue(nil)
	tests := []struct {
		name  string
		attrs map[string]cty.Value
		want  string // summary of the error, "" for none
	}{
		{name: "defaults"},
		{name: "recipients", attrs: map[string]cty.Value{"recipients": cty.StringVal(`@example\.org$`)}},
		{name: "bad regexp", attrs: map[string]cty.Value{"recipients": cty.StringVal(`(`)}, want: "Invalid regular expression"},
		{name: "bad timeout", attrs: map[string]cty.Value{"timeout": cty.StringVal("ten minutes")}, want: "Invalid duration"},
		{name: "zero timeout", attrs: map[string]cty.Value{"timeout": cty.StringVal("0s")}, want: "Timeout not positive"},
		{name: "negative timeout", attrs: map[string]cty.Value{"timeout": cty.StringVal("-1m")}, want: "Timeout not positive"},
		{name: "relative config_dir", attrs: map[string]cty.Value{"config_dir": cty.StringVal("etc/postfix")}, want: "Relative path"},
		{name: "unknown values", attrs: map[string]cty.Value{"recipients": cty.UnknownVal(cty.String), "timeout": cty.UnknownVal(cty.String)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := q.Validate(context.Background(), queueConfigValue(t, tt.attrs))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate: error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestQueuePlan(t *testing.T) {
	q := NewQueue(nil)
	config := queueConfigValue(t, nil)
	for _, tt := range []struct {
		snap        queueSnapshot
		wantSummary string
	}{
		{snap: queueSnapshot{}, wantSummary: ""},
		{snap: queueSnapshot{Count: 1, OldestID: "4B6F81C0C9", OldestTime: 1764442800},
			wantSummary: "1 message in the queue (oldest 4B6F81C0C9 since 2025-11-29 19:00:00 UTC)"},
		{snap: queueSnapshot{Count: 3, OldestID: "3D2A41C0C8", OldestTime: 1764442700},
			wantSummary: "3 messages in the queue (oldest 3D2A41C0C8 since 2025-11-29 18:58:20 UTC)"},
	} {
		snap, err := json.Marshal(tt.snap)
		if err != nil {
			t.Fatal(err)
		}
		c, err := decodeQueue(config)
		if err != nil {
			t.Fatal(err)
		}
		current := c.value(tt.snap.Count)
		resp, err := q.Plan(context.Background(), resource.PlanRequest{Config: config, Current: current, Snapshot: snap})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Summary != tt.wantSummary {
			t.Errorf("count %d: summary %q, want %q", tt.snap.Count, resp.Summary, tt.wantSummary)
		}
		if got := resp.Planned.GetAttr("count"); !got.RawEquals(cty.NumberIntVal(0)) {
			t.Errorf("count %d: planned count %#v, want 0", tt.snap.Count, got)
		}
		if noop := resp.Planned.RawEquals(current); noop != (tt.snap.Count == 0) {
			t.Errorf("count %d: plan is a no-op: %v", tt.snap.Count, noop)
		}
	}
	if fp1, fp2 := q.Fingerprint(decodeMust(t, config).value(0)), q.Fingerprint(decodeMust(t, config).value(7)); string(fp1) != string(fp2) {
		t.Errorf("fingerprint depends on the count: %q, %q", fp1, fp2)
	}
	if err := q.Restore(context.Background(), resource.RestoreRequest{Config: config, Snapshot: []byte("{}")}); err != nil {
		t.Errorf("Restore: %v", err)
	}
}

func decodeMust(t *testing.T, v cty.Value) queueConfig {
	t.Helper()
	c, err := decodeQueue(v)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
