package render

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/mailplan/mailplan/engine/addrs"
)

// The -json message stream of plan, apply, destroy and rollback: one JSON
// object per line, in the manner of Terraform's machine-readable UI.
// docs/json-format.md is its specification; within a major StreamVersion
// fields and message types are only ever added, so a reader must ignore
// what it does not know.

// StreamVersion is the version of the stream's format, in the "ui" field
// of the first message.
const StreamVersion = "1.0"

// StreamModule is every message's "@module".
const StreamModule = "mailplan.ui"

// Message types.
const (
	MsgVersion          = "version"
	MsgLog              = "log"
	MsgDiagnostic       = "diagnostic"
	MsgPlannedChange    = "planned_change"
	MsgChangeSummary    = "change_summary"
	MsgOutputs          = "outputs"
	MsgApplyStart       = "apply_start"
	MsgApplyProgress    = "apply_progress"
	MsgApplyComplete    = "apply_complete"
	MsgApplyErrored     = "apply_errored"
	MsgResourceStatus   = "resource_status"
	MsgWait             = "wait"
	MsgGate             = "gate"
	MsgCopyProgress     = "copy_progress"
	MsgRollbackPlan     = "rollback_plan"
	MsgRollbackStart    = "rollback_start"
	MsgRollbackComplete = "rollback_complete"
	MsgRollbackErrored  = "rollback_errored"
)

// Levels of a message.
const (
	LevelInfo  = "info"
	LevelWarn  = "warn"
	LevelError = "error"
)

// Message is one line of the stream: the common fields, then the one
// field its Type carries (the version message carries two).
type Message struct {
	Level     string `json:"@level"`
	Message   string `json:"@message"`
	Module    string `json:"@module"`
	Timestamp string `json:"@timestamp"`
	Type      string `json:"type"`

	Mailplan       string                  `json:"mailplan,omitempty"`
	UI             string                  `json:"ui,omitempty"`
	Diagnostic     *JSONDiagnostic         `json:"diagnostic,omitempty"`
	Change         *StreamChange           `json:"change,omitempty"`
	Changes        *StreamSummary          `json:"changes,omitempty"`
	Outputs        map[string]StreamOutput `json:"outputs,omitempty"`
	Hook           *StreamHook             `json:"hook,omitempty"`
	Status         *StreamStatus           `json:"status,omitempty"`
	Wait           *StreamWait             `json:"wait,omitempty"`
	Gate           *StreamGate             `json:"gate,omitempty"`
	Progress       *StreamProgress         `json:"progress,omitempty"`
	RollbackDetail *StreamRollback         `json:"rollback,omitempty"`
}

// StreamResource is a resource instance address and its parts.
type StreamResource struct {
	Addr string `json:"addr"`
	// Module is the module instance ("" for the root module); Resource
	// the address within it.
	Module       string `json:"module"`
	Resource     string `json:"resource"`
	ResourceType string `json:"resource_type"`
	ResourceName string `json:"resource_name"`
	// ResourceKey is the count index (a number), the for_each key (a
	// string), or null.
	ResourceKey any `json:"resource_key"`
}

// ResourceOf splits an instance address into its parts; an address that
// does not parse is given whole, as Addr and Resource.
func ResourceOf(addr string) StreamResource {
	ri, diags := addrs.ParseResourceInstance(addr)
	if diags.HasErrors() {
		return StreamResource{Addr: addr, Resource: addr}
	}
	r := StreamResource{
		Addr:         addr,
		Module:       ri.Module.String(),
		Resource:     ri.Resource.String() + keyText(ri.Key),
		ResourceType: ri.Resource.Type,
		ResourceName: ri.Resource.Name,
	}
	switch k := ri.Key.(type) {
	case addrs.IntKey:
		r.ResourceKey = int(k)
	case addrs.StringKey:
		r.ResourceKey = string(k)
	}
	return r
}

func keyText(k addrs.Key) string {
	if k == nil {
		return ""
	}
	return k.String()
}

// StreamChange is a planned change (planned_change) or a change a
// rollback will undo (rollback_plan).
type StreamChange struct {
	Resource StreamResource `json:"resource"`
	// Action is create, update, delete, replace, resume, forget, move,
	// takeover or adopt (planned_change), or the action undone
	// (rollback_plan).
	Action string `json:"action"`
	// Reason says why, when mailplan says: "path changed", "not in the
	// configuration".
	Reason string `json:"reason,omitempty"`
	// PreviousResource is where a moved block moved it from.
	PreviousResource *StreamResource `json:"previous_resource,omitempty"`
	// TakesOver is the instance whose record it inherits.
	TakesOver *StreamResource `json:"takes_over,omitempty"`
	// Summary is the type's one-line summary; Pending a step not due yet.
	Summary string `json:"summary,omitempty"`
	Pending string `json:"pending,omitempty"`
}

// StreamSummary counts the changes of a plan or of what an operation did.
type StreamSummary struct {
	Add    int `json:"add"`
	Change int `json:"change"`
	Remove int `json:"remove"`
	// Restore is what a rollback put back (rollback only).
	Restore int `json:"restore,omitempty"`
	// Operation is plan, apply, destroy or rollback.
	Operation string `json:"operation"`
}

// StreamOutput is a root output: after plan its action; after apply its
// type and value, neither of them when it is sensitive.
type StreamOutput struct {
	Sensitive bool            `json:"sensitive"`
	Action    string          `json:"action,omitempty"`
	Type      json.RawMessage `json:"type,omitempty"`
	Value     json.RawMessage `json:"value,omitempty"`
}

// StreamHook is a resource's step in an apply, destroy or rollback.
type StreamHook struct {
	Resource StreamResource `json:"resource"`
	// Action is what the step does (create, update, delete, replace,
	// resume); left out for a rollback.
	Action string `json:"action,omitempty"`
	// ElapsedSeconds is the time since the step started; left out at
	// its start.
	ElapsedSeconds *int64 `json:"elapsed_seconds,omitempty"`
	// Error is why it failed, when known.
	Error string `json:"error,omitempty"`
}

// StreamStatus is any other line about a resource: a hook it runs, a
// move or takeover recorded, an on_rollback hook that failed.
type StreamStatus struct {
	Resource StreamResource `json:"resource"`
	Text     string         `json:"text"`
}

// StreamWait is a resource waiting: for a TTL hold to pass, a queue to
// drain.
type StreamWait struct {
	Resource StreamResource `json:"resource"`
	// Until is when the wait ends (RFC 3339, UTC).
	Until  string `json:"until"`
	Reason string `json:"reason"`
	// Inline is true when this run waits (up to apply -max-wait); false
	// when the wait is kept in the state and a later apply goes on.
	Inline bool `json:"inline"`
}

// StreamGate is a gate's check at apply time: checking, passed or
// failed.
type StreamGate struct {
	Resource StreamResource `json:"resource"`
	Result   string         `json:"result"`
	Error    string         `json:"error,omitempty"`
}

// StreamProgress is a long step's progress: a mailbox_copy's bytes
// copied, a postfix_queue's messages drained.
type StreamProgress struct {
	Resource StreamResource `json:"resource"`
	// Unit is what Done and Total count: "bytes" or "messages".
	Unit  string `json:"unit"`
	Done  int64  `json:"done"`
	Total int64  `json:"total"`
}

// StreamRollback is what a rollback is about to undo.
type StreamRollback struct {
	// Operation is the apply or destroy undone, Started when it started.
	Operation string         `json:"operation"`
	Started   string         `json:"started"`
	Changes   []StreamChange `json:"changes"`
	// Drifted are the resources changed on their hosts since.
	Drifted []StreamResource `json:"drifted"`
}

// Stream writes messages, one JSON object a line, each line whole even
// when messages come from several goroutines.
type Stream struct {
	mu  sync.Mutex
	w   io.Writer
	now func() time.Time
}

// NewStream writes to w, stamping messages with now (nil: time.Now).
func NewStream(w io.Writer, now func() time.Time) *Stream {
	if now == nil {
		now = time.Now
	}
	return &Stream{w: w, now: now}
}

// Emit fills in the common fields of m and writes it as one line.
func (s *Stream) Emit(m Message) error {
	if m.Level == "" {
		m.Level = LevelInfo
	}
	m.Module = StreamModule
	m.Timestamp = s.now().Format(time.RFC3339Nano)
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s message: %w", m.Type, err)
	}
	b = append(b, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err = s.w.Write(b)
	return err
}

// VersionMessage is the first message of a stream.
func VersionMessage(version string) Message {
	return Message{Type: MsgVersion, Message: "mailplan " + version, Mailplan: version, UI: StreamVersion}
}

// LogMessage is a line of text for people, with nothing to parse.
func LogMessage(level, text string) Message {
	return Message{Type: MsgLog, Level: level, Message: text}
}

// DiagnosticMessage is one diagnostic, with its snippet when files has
// its file.
func DiagnosticMessage(d *hcl.Diagnostic, files map[string]*hcl.File) Message {
	jd := DiagnosticJSON(d, files)
	m := Message{Type: MsgDiagnostic, Level: LevelError, Message: "Error: " + d.Summary, Diagnostic: &jd}
	if d.Severity == hcl.DiagWarning {
		m.Level, m.Message = LevelWarn, "Warning: "+d.Summary
	}
	return m
}

// ResourceStatusMessage is any other line about a resource.
func ResourceStatusMessage(addr, text string) Message {
	return Message{Type: MsgResourceStatus, Message: addr + ": " + text, Status: &StreamStatus{Resource: ResourceOf(addr), Text: text}}
}

// WaitMessage is a resource waiting until until.
func WaitMessage(addr string, until time.Time, reason string, inline bool) Message {
	u := until.UTC().Format(time.RFC3339)
	return Message{Type: MsgWait, Message: fmt.Sprintf("%s: Waiting until %s (%s)", addr, u, reason),
		Wait: &StreamWait{Resource: ResourceOf(addr), Until: u, Reason: reason, Inline: inline}}
}

// Gate results.
const (
	GateChecking = "checking"
	GatePassed   = "passed"
	GateFailed   = "failed"
)

// GateMessage is a gate's check starting, passing or failing (with err).
func GateMessage(addr, result, err string) Message {
	m := Message{Type: MsgGate, Gate: &StreamGate{Resource: ResourceOf(addr), Result: result, Error: err}}
	switch result {
	case GateChecking:
		m.Message = addr + ": Checking..."
	case GatePassed:
		m.Message = addr + ": Check passed"
	default:
		m.Level, m.Message = LevelError, addr+": Check failed"
		if err != "" {
			m.Message += ": " + err
		}
	}
	return m
}

// ProgressMessage is a long step's progress.
func ProgressMessage(addr, unit string, done, total int64) Message {
	text := fmt.Sprintf("%s: %d %s", addr, done, unit)
	if total > 0 {
		text = fmt.Sprintf("%s: %d of %d %s (%d%%)", addr, done, total, unit, done*100/total)
	}
	return Message{Type: MsgCopyProgress, Message: text,
		Progress: &StreamProgress{Resource: ResourceOf(addr), Unit: unit, Done: done, Total: total}}
}
