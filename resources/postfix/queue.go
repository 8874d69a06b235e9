package postfix

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
)

// Queue is the `postfix_queue` resource type: a gate that completes when
// a Postfix instance's queue holds no message (or none for the recipients
// it names). It changes nothing on the host.
type Queue struct {
	hosts Hosts
	// poll is the time between two looks at the queue in Apply.
	poll time.Duration
}

var (
	_ resource.Type          = (*Queue)(nil)
	_ resource.Validator     = (*Queue)(nil)
	_ resource.Fingerprinter = (*Queue)(nil)
)

// NewQueue returns the postfix_queue type, reaching hosts through hosts.
func NewQueue(hosts Hosts) *Queue { return &Queue{hosts: hosts, poll: DefaultQueuePoll} }

// Defaults of postfix_queue.
const (
	DefaultQueueTimeout = "30m"
	// DefaultQueuePoll is how often Apply looks at the queue.
	DefaultQueuePoll = 2 * time.Second
)

var queueSchema = &resource.Schema{Attributes: map[string]*resource.Attribute{
	"host": {Type: resource.HostType, Kind: resource.HostRef, Required: true, Identity: true,
		Description: "The host Postfix runs on."},
	"config_dir": {Type: cty.String, Default: cty.StringVal(DefaultConfigDir),
		Description: "The Postfix instance: the directory of its main.cf, passed as -c to postqueue."},
	"recipients": {Type: cty.String,
		Description: "A regular expression (Go RE2 syntax) matched against each recipient address of a queued message; only messages with a matching recipient count. Default: every message."},
	"timeout": {Type: cty.String, Default: cty.StringVal(DefaultQueueTimeout),
		Description: "How long apply waits for the queue to drain before it fails, as a Go duration (\"30m\", \"1h30m\")."},
	"count": {Type: cty.Number, Computed: true,
		Description: "Matching messages in the queue now."},
}}

// Name implements resource.Type.
func (*Queue) Name() string { return "postfix_queue" }

// Schema implements resource.Type.
func (*Queue) Schema() *resource.Schema { return queueSchema }

// Validate implements resource.Validator.
func (*Queue) Validate(ctx context.Context, config cty.Value) error {
	config, _ = config.UnmarkDeep()
	if config.IsNull() || !config.IsKnown() {
		return nil
	}
	errs := checkAbsPath(config, "config_dir", "configuration directory")
	if v, ok := resource.Known(config, "recipients"); ok {
		if _, err := regexp.Compile(v.AsString()); err != nil {
			errs = append(errs, resource.Errorf("recipients", "Invalid regular expression",
				"recipients is not a valid regular expression (Go RE2 syntax): %v.", err))
		}
	}
	if v, ok := resource.Known(config, "timeout"); ok {
		d, err := time.ParseDuration(v.AsString())
		switch {
		case err != nil:
			errs = append(errs, resource.Errorf("timeout", "Invalid duration",
				"timeout %q is not a duration; write it like \"30m\" or \"1h30m\".", v.AsString()))
		case d <= 0:
			errs = append(errs, resource.Errorf("timeout", "Timeout not positive",
				"timeout %q must be longer than zero.", v.AsString()))
		}
	}
	return errs.Err()
}

type queueConfig struct {
	Host       resource.Host `cty:"host"`
	ConfigDir  string        `cty:"config_dir"`
	Recipients *string       `cty:"recipients"`
	Timeout    string        `cty:"timeout"`
	Count      cty.Value     `cty:"count"` // computed, unused

	cfg     cty.Value
	match   *regexp.Regexp // nil: every message
	timeout time.Duration
}

func decodeQueue(v cty.Value) (queueConfig, error) {
	c := queueConfig{ConfigDir: DefaultConfigDir, Timeout: DefaultQueueTimeout}
	err := resource.Decode(v, &c)
	if err != nil {
		return c, fmt.Errorf("postfix_queue: %w", err)
	}
	c.cfg, _ = v.UnmarkDeep()
	if c.Recipients != nil {
		if c.match, err = regexp.Compile(*c.Recipients); err != nil {
			return c, fmt.Errorf("postfix_queue: recipients: %w", err)
		}
	}
	if c.timeout, err = time.ParseDuration(c.Timeout); err != nil || c.timeout <= 0 {
		return c, fmt.Errorf("postfix_queue: timeout %q is not a positive duration", c.Timeout)
	}
	return c, nil
}

// value is the configuration with count set.
func (c queueConfig) value(count int) cty.Value {
	m := c.cfg.AsValueMap()
	m["count"] = cty.NumberIntVal(int64(count))
	return cty.ObjectVal(m)
}

// queuedMessage is one message as `postqueue -j` prints it (postqueue(1),
// "JSON OBJECT FORMAT"); fields mailplan does not use are left out.
type queuedMessage struct {
	QueueName   string       `json:"queue_name"`
	QueueID     string       `json:"queue_id"`
	ArrivalTime int64        `json:"arrival_time"`
	MessageSize int64        `json:"message_size"`
	Sender      string       `json:"sender"`
	Recipients  []queuedRcpt `json:"recipients"`
}

type queuedRcpt struct {
	Address     string `json:"address"`
	DelayReason string `json:"delay_reason,omitempty"`
}

// parseQueue parses `postqueue -j` output: one JSON object per line.
func parseQueue(out []byte) ([]queuedMessage, error) {
	var msgs []queuedMessage
	for i, line := range bytes.Split(out, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var m queuedMessage
		if err := json.Unmarshal(line, &m); err != nil {
			return nil, fmt.Errorf("postqueue -j output, line %d: %w", i+1, err)
		}
		if m.QueueID == "" {
			return nil, fmt.Errorf("postqueue -j output, line %d: no queue_id", i+1)
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// matching returns the messages with a recipient that re matches (every
// message when re is nil), oldest first (by arrival time, then queue id).
func matching(msgs []queuedMessage, re *regexp.Regexp) []queuedMessage {
	var out []queuedMessage
	for _, m := range msgs {
		if re == nil {
			out = append(out, m)
			continue
		}
		for _, r := range m.Recipients {
			if re.MatchString(r.Address) {
				out = append(out, m)
				break
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].ArrivalTime != out[j].ArrivalTime {
			return out[i].ArrivalTime < out[j].ArrivalTime
		}
		return out[i].QueueID < out[j].QueueID
	})
	return out
}

// queue lists the instance's queue with `postqueue -c DIR -j`. When the
// mail system is down, postqueue run as root reads the queue directly
// (it warns "Mail system is down -- accessing queue directly").
func (in instance) queue(ctx context.Context) ([]queuedMessage, error) {
	res, err := in.runOK(ctx, "postqueue", "-c", in.dir, "-j")
	if err != nil {
		return nil, err
	}
	msgs, err := parseQueue(res.Stdout)
	if err != nil {
		return nil, fmt.Errorf("on %s: %w", in.h.Name(), err)
	}
	return msgs, nil
}

// look reads the matching messages of the configured instance.
func (t *Queue) look(ctx context.Context, c queueConfig) ([]queuedMessage, error) {
	in, err := openInstance(ctx, t.hosts, c.Host, c.ConfigDir)
	if err != nil {
		return nil, err
	}
	msgs, err := in.queue(ctx)
	if err != nil {
		return nil, err
	}
	return matching(msgs, c.match), nil
}

// queueSnapshot is what Read saw, for Plan's summary. Restore needs
// nothing from it: the gate changes nothing.
type queueSnapshot struct {
	Count      int    `json:"count,omitempty"`
	OldestID   string `json:"oldest_id,omitempty"`
	OldestTime int64  `json:"oldest_time,omitempty"`
}

// Read implements resource.Type: one `postqueue -j`; Current is the
// configuration with the count of matching messages.
func (t *Queue) Read(ctx context.Context, req resource.ReadRequest) (resource.ReadResponse, error) {
	c, err := decodeQueue(req.Config)
	if err != nil {
		return resource.ReadResponse{}, err
	}
	msgs, err := t.look(ctx, c)
	if err != nil {
		return resource.ReadResponse{}, err
	}
	s := queueSnapshot{Count: len(msgs)}
	if len(msgs) > 0 {
		s.OldestID, s.OldestTime = msgs[0].QueueID, msgs[0].ArrivalTime
	}
	snap, err := json.Marshal(s)
	if err != nil {
		return resource.ReadResponse{}, err
	}
	return resource.ReadResponse{Current: c.value(len(msgs)), Snapshot: snap}, nil
}

// Plan implements resource.Type: the queue drained (count 0). An empty
// queue is no change.
func (t *Queue) Plan(ctx context.Context, req resource.PlanRequest) (resource.PlanResponse, error) {
	c, err := decodeQueue(req.Config)
	if err != nil {
		return resource.PlanResponse{}, err
	}
	var s queueSnapshot
	if len(req.Snapshot) > 0 {
		if err := json.Unmarshal(req.Snapshot, &s); err != nil {
			return resource.PlanResponse{}, fmt.Errorf("plan postfix_queue: bad snapshot: %w", err)
		}
	}
	resp := resource.PlanResponse{Planned: c.value(0)}
	if s.Count > 0 {
		resp.Summary = fmt.Sprintf("%s in the queue (oldest %s since %s)",
			plural(s.Count, "message"), s.OldestID, formatArrival(s.OldestTime))
	}
	return resp, nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func formatArrival(unix int64) string {
	return time.Unix(unix, 0).UTC().Format("2006-01-02 15:04:05 UTC")
}

// queueResume is the Resume data of a wait: when the gate started, so
// that the timeout runs from the first Apply.
type queueResume struct {
	Started time.Time `json:"started"`
}

// Apply implements resource.Type: it looks at the queue every poll
// interval until no matching message is left, and fails when timeout
// (from the first Apply) has passed first.
func (t *Queue) Apply(ctx context.Context, req resource.ApplyRequest) (resource.ApplyResponse, error) {
	c, err := decodeQueue(req.Config)
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	log := orNull(req.Logger)
	started := time.Now()
	if len(req.Resume) > 0 {
		var r queueResume
		if err := json.Unmarshal(req.Resume, &r); err != nil {
			return resource.ApplyResponse{}, fmt.Errorf("apply postfix_queue: bad resume data: %w", err)
		}
		if !r.Started.IsZero() {
			started = r.Started
		}
	}
	deadline := started.Add(c.timeout)
	poll := t.poll
	if poll <= 0 {
		poll = DefaultQueuePoll
	}
	first, total := true, 0
	for {
		msgs, err := t.look(ctx, c)
		if err != nil {
			return resource.ApplyResponse{}, err
		}
		if req.Progress != nil {
			if first {
				total = len(msgs)
				req.Progress.Total(int64(total), "messages")
			} else if done := total - len(msgs); done > 0 {
				req.Progress.Add(int64(done))
				total = len(msgs)
			}
		}
		first = false
		if len(msgs) == 0 {
			return resource.ApplyResponse{}, nil
		}
		now := time.Now()
		if !now.Before(deadline) {
			return resource.ApplyResponse{}, c.timeoutError(msgs)
		}
		log.Debug("waiting for the queue to drain", "count", len(msgs), "oldest", msgs[0].QueueID)
		wait := min(poll, deadline.Sub(now))
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return resource.ApplyResponse{}, ctx.Err()
		case <-timer.C:
		}
	}
}

// timeoutError names the count and the oldest queue ids.
func (c queueConfig) timeoutError(msgs []queuedMessage) error {
	const show = 5
	var ids []string
	for i, m := range msgs {
		if i == show {
			ids = append(ids, fmt.Sprintf("and %d more", len(msgs)-show))
			break
		}
		ids = append(ids, fmt.Sprintf("%s (%s queue, since %s)", m.QueueID, m.QueueName, formatArrival(m.ArrivalTime)))
	}
	what := plural(len(msgs), "message")
	if c.match != nil {
		what += fmt.Sprintf(" for recipients matching %q", c.match.String())
	}
	return fmt.Errorf("the queue of the Postfix instance %s on %s still holds %s after %v; oldest: %s",
		c.ConfigDir, c.Host, what, c.timeout, strings.Join(ids, ", "))
}

// Restore implements resource.Type: the gate changed nothing.
func (*Queue) Restore(ctx context.Context, req resource.RestoreRequest) error { return nil }

// Fingerprint implements resource.Fingerprinter: the queue's content
// never makes a saved plan stale; Apply waits for whatever is queued when
// it runs.
func (*Queue) Fingerprint(current cty.Value) []byte { return []byte("postfix_queue") }

var _ resource.Checker = (*Queue)(nil)

// Check implements resource.Checker: a queue that was empty when the plan
// was made is checked again at apply time, in dependency order — mail may
// have been queued since (behind a relay switch, say), and the gate exists
// so that nothing after it starts while it is there.
func (t *Queue) Check(ctx context.Context, req resource.ApplyRequest) error {
	_, err := t.Apply(ctx, req)
	return err
}
