package smtpprobe

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/mailplan/mailplan/engine/resource"
)

// entry is a journal entry: a probe that may be in a mailbox. Restore
// removes it. It holds no password.
type entry struct {
	Token string `json:"token"`
	// State is "sending" (recorded before DATA: the probe may land,
	// Restore waits for it up to Timeout), "landed" (found, and kept or
	// about to be removed: Restore looks once), "lost" (not accepted, or
	// not found in time: Restore looks once) or "gone" (removed: nothing
	// to do).
	State   string `json:"state"`
	Timeout string `json:"timeout,omitempty"`
	// Where the probe lands: a Maildir (on the configuration's host) or
	// an IMAP mailbox (logged in with the configuration's password).
	Maildir      string `json:"maildir,omitempty"`
	IMAPAddress  string `json:"imap_address,omitempty"`
	IMAPUsername string `json:"imap_username,omitempty"`
	IMAPMailbox  string `json:"imap_mailbox,omitempty"`
}

const (
	stateSending = "sending"
	stateLanded  = "landed"
	stateLost    = "lost"
	stateGone    = "gone"
)

func newToken() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "mp-" + hex.EncodeToString(b), nil
}

// finder looks for one probe in one place.
type finder interface {
	where() string
	// find looks once; found describes where the probe is ("" when
	// not there).
	find(ctx context.Context, deadline time.Time) (found string, err error)
	// remove removes what the last find found.
	remove(ctx context.Context, deadline time.Time) error
}

type maildirPlace struct {
	f     *maildirFinder
	token string
	paths []string
}

func (m *maildirPlace) where() string { return m.f.where() }

func (m *maildirPlace) find(ctx context.Context, _ time.Time) (string, error) {
	ps, err := m.f.find(ctx, m.token)
	m.paths = ps
	if err != nil || len(ps) == 0 {
		return "", err
	}
	return fmt.Sprintf("%s on %s", strings.Join(ps, ", "), m.f.h.Name()), nil
}

func (m *maildirPlace) remove(ctx context.Context, _ time.Time) error {
	if len(m.paths) == 0 {
		return nil
	}
	return m.f.remove(ctx, m.paths)
}

type imapPlace struct {
	c     imapConfig
	token string
	uids  []uint32
}

func (m *imapPlace) where() string { return m.c.where() }

// lookTime is what the last look before a deadline may take.
const lookTime = 10 * time.Second

func (m *imapPlace) find(ctx context.Context, deadline time.Time) (string, error) {
	if least := time.Now().Add(lookTime); deadline.Before(least) {
		deadline = least
	}
	uids, err := imapLook(ctx, m.c, m.token, deadline, false)
	m.uids = uids
	if err != nil || len(uids) == 0 {
		return "", err
	}
	return fmt.Sprintf("%s, UID %s", m.c.where(), joinUIDs(uids)), nil
}

func (m *imapPlace) remove(ctx context.Context, deadline time.Time) error {
	if len(m.uids) == 0 {
		return nil
	}
	// A session of its own: search again, expunge what it finds.
	_, err := imapLook(ctx, m.c, m.token, deadline, true)
	return err
}

func joinUIDs(uids []uint32) string {
	s := make([]string, len(uids))
	for i, u := range uids {
		s[i] = fmt.Sprint(u)
	}
	return strings.Join(s, ",")
}

// place is where the configuration says the probe with token lands.
func (t *Probe) place(ctx context.Context, c probeConfig, token string) (finder, error) {
	if c.imap != nil {
		return &imapPlace{c: *c.imap, token: token}, nil
	}
	h, err := t.hosts.Get(ctx, *c.host)
	if err != nil {
		return nil, err
	}
	folder := ""
	if c.Folder != nil {
		folder = *c.Folder
	}
	return &maildirPlace{f: newMaildirFinder(h, *c.Maildir, folder), token: token}, nil
}

// Apply implements resource.Type (the engine calls it through Check):
// the probe is sent, and, when it is delivered, looked for until found
// or timeout.
func (t *Probe) Apply(ctx context.Context, req resource.ApplyRequest) (resource.ApplyResponse, error) {
	c, err := decode(req.Config)
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	log := orNull(req.Logger)
	start := time.Now()
	deadline := start.Add(c.timeout)
	token, err := newToken()
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	var place finder
	if c.looks() {
		if place, err = t.place(ctx, c, token); err != nil {
			return resource.ApplyResponse{}, err
		}
		// Before anything is sent: a rollback removes what may land.
		if err := record(ctx, req.Journal, c, token, stateSending); err != nil {
			return resource.ApplyResponse{}, err
		}
	}
	log.Info("sending probe", "recipient", c.Recipient, "via", c.route(), "token", token)
	s, err := t.sendUntil(ctx, c, token, deadline, log)
	if err != nil {
		if place != nil {
			// Not accepted, unless the end of DATA's reply was lost on
			// the way: a rollback looks once, and does not wait.
			if rerr := record(ctx, req.Journal, c, token, stateLost); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
		return resource.ApplyResponse{}, err
	}
	switch {
	case c.Expect == ExpectReject:
		log.Info("probe refused, as expected", "recipient", c.Recipient, "via", s.Via, "reply", s.Reply.String())
		return resource.ApplyResponse{}, nil
	case !c.Deliver:
		log.Info("recipient accepted, nothing sent", "recipient", c.Recipient, "via", s.Via, "reply", s.Reply.String())
		return resource.ApplyResponse{}, nil
	}
	log.Info("probe accepted", "recipient", c.Recipient, "via", s.Via, "reply", s.Reply.String())
	found, err := waitFor(ctx, place, deadline, c.interval)
	if err != nil {
		if errors.Is(err, errNotFound) {
			// It may still come, elsewhere or late: a rollback looks
			// once more, and does not wait.
			err = fmt.Errorf("the probe to %s (%s, accepted by %s: %s) is not in %s after %v; look in the log of the server that accepted it for queue id and delivery status",
				c.Recipient, token, s.Via, s.Reply, place.where(), c.timeout)
			if rerr := record(ctx, req.Journal, c, token, stateLost); rerr != nil {
				err = errors.Join(err, rerr)
			}
			return resource.ApplyResponse{}, err
		}
		return resource.ApplyResponse{}, err
	}
	log.Info("probe found", "recipient", c.Recipient, "where", found, "after", time.Since(start).Round(time.Millisecond))
	// From now on a rollback need not wait for it: it is there, or it
	// was removed.
	if err := record(ctx, req.Journal, c, token, stateLanded); err != nil {
		return resource.ApplyResponse{}, err
	}
	if c.Keep {
		log.Info("probe kept", "where", found, "token", token)
		return resource.ApplyResponse{}, nil
	}
	if err := place.remove(ctx, deadline.Add(stepTimeout)); err != nil {
		return resource.ApplyResponse{}, err
	}
	log.Info("probe removed", "where", found)
	if err := record(ctx, req.Journal, c, token, stateGone); err != nil {
		return resource.ApplyResponse{}, err
	}
	return resource.ApplyResponse{}, nil
}

var errNotFound = errors.New("probe not found")

// sendUntil sends the probe, trying again every interval while the
// outcome is not decided (nothing listening, a 4xx reply), until
// deadline.
func (t *Probe) sendUntil(ctx context.Context, c probeConfig, token string, deadline time.Time, log hclog.Logger) (sent, error) {
	for attempt := 1; ; attempt++ {
		s, err := t.send(ctx, c, token, deadline, log)
		if err == nil {
			return s, nil
		}
		var pe *permanentError
		if errors.As(err, &pe) || ctx.Err() != nil {
			return sent{}, fmt.Errorf("smtp_probe to %s via %s: %w", c.Recipient, c.route(), err)
		}
		if !time.Now().Add(c.interval).Before(deadline) {
			return sent{}, fmt.Errorf("smtp_probe to %s via %s: not decided after %v (%d tries); last try: %w", c.Recipient, c.route(), c.timeout, attempt, err)
		}
		log.Debug("probe not decided yet, trying again", "attempt", attempt, "error", err)
		if err := sleep(ctx, c.interval); err != nil {
			return sent{}, err
		}
	}
}

// waitFor looks for the probe every interval until found or deadline.
func waitFor(ctx context.Context, place finder, deadline time.Time, interval time.Duration) (string, error) {
	for {
		found, err := place.find(ctx, deadline)
		if err != nil {
			return "", err
		}
		if found != "" {
			return found, nil
		}
		now := time.Now()
		if !now.Before(deadline) {
			return "", errNotFound
		}
		if err := sleep(ctx, min(interval, deadline.Sub(now))); err != nil {
			return "", err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

func record(ctx context.Context, j resource.Journal, c probeConfig, token, state string) error {
	e := entry{Token: token, State: state, Timeout: c.Timeout}
	if c.imap != nil {
		e.IMAPAddress, e.IMAPUsername, e.IMAPMailbox = c.imap.Address, c.imap.Username, c.imap.Mailbox
	} else if c.Maildir != nil {
		e.Maildir = *c.Maildir
		if c.Folder != nil {
			e.Maildir = path.Join(e.Maildir, "."+*c.Folder)
		}
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if j == nil {
		return errors.New("smtp_probe: no journal")
	}
	if err := j.Record(ctx, b); err != nil {
		return fmt.Errorf("journal the probe %s: %w", token, err)
	}
	return nil
}

// Restore implements resource.Type: it removes the probes the journal
// says may be in a mailbox (a kept one, or one an interrupted apply
// sent), newest first. A probe recorded as being sent is waited for up
// to its timeout (it may still be on its way); one not found in time
// is looked for once; one removed is left alone. A probe that does not
// come is not an error: it is logged with its token.
func (t *Probe) Restore(ctx context.Context, req resource.RestoreRequest) error {
	last := map[string]entry{}
	var order []string
	for _, raw := range req.Journal {
		var e entry
		if err := json.Unmarshal(raw, &e); err != nil {
			return fmt.Errorf("restore smtp_probe: bad journal entry: %w", err)
		}
		if _, ok := last[e.Token]; !ok {
			order = append(order, e.Token)
		}
		last[e.Token] = e
	}
	log := orNull(req.Logger)
	for i := len(order) - 1; i >= 0; i-- {
		e := last[order[i]]
		if e.State == stateGone {
			continue
		}
		if err := t.restoreOne(ctx, req, e, log); err != nil {
			return err
		}
	}
	return nil
}

func (t *Probe) restoreOne(ctx context.Context, req resource.RestoreRequest, e entry, log hclog.Logger) error {
	var place finder
	switch {
	case e.IMAPAddress != "":
		c, err := decode(req.Config)
		if err != nil || c.imap == nil || c.imap.Password == "" {
			return fmt.Errorf("restore smtp_probe: the probe %s may be in mailbox %q of %s at IMAP %s, and no IMAP password is configured to remove it: remove the message with header %s: %s by hand",
				e.Token, e.IMAPMailbox, e.IMAPUsername, e.IMAPAddress, ProbeHeader, e.Token)
		}
		place = &imapPlace{c: imapConfig{Address: e.IMAPAddress, Username: e.IMAPUsername, Password: c.imap.Password, Mailbox: e.IMAPMailbox}, token: e.Token}
	case e.Maildir != "":
		c, err := decode(req.Config)
		if err != nil || c.host == nil {
			return fmt.Errorf("restore smtp_probe: the probe %s may be in Maildir %s, and no host is configured to remove it: remove the message with header %s: %s by hand",
				e.Token, e.Maildir, ProbeHeader, e.Token)
		}
		h, err := t.hosts.Get(ctx, *c.host)
		if err != nil {
			return err
		}
		place = &maildirPlace{f: newMaildirFinder(h, e.Maildir, ""), token: e.Token}
	default:
		return nil
	}
	wait, _ := time.ParseDuration(e.Timeout)
	if e.State != stateSending || wait <= 0 {
		wait = 0
	}
	deadline := time.Now().Add(wait)
	found, err := waitFor(ctx, place, deadline, 200*time.Millisecond)
	if errors.Is(err, errNotFound) {
		log.Warn("probe not found, nothing removed", "token", e.Token, "where", place.where())
		return nil
	}
	if err != nil {
		return fmt.Errorf("restore smtp_probe: %w", err)
	}
	if err := place.remove(ctx, time.Now().Add(stepTimeout)); err != nil {
		return fmt.Errorf("restore smtp_probe: %w", err)
	}
	log.Info("probe removed", "where", found)
	return nil
}
