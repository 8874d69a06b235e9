package smtpprobe

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/resourcetest"
)

func TestStructMatchesSchema(t *testing.T) {
	if err := resource.CheckStruct(schema, probeConfig{}); err != nil {
		t.Fatal(err)
	}
}

var testHost = resource.Host{Name: "new", Transport: "local"}

func imapVal(kv ...string) cty.Value {
	m := map[string]cty.Value{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = cty.StringVal(kv[i+1])
	}
	return cty.MapVal(m)
}

// problems lists "attribute: summary" of a Validate error.
func problems(err error) []string {
	var out []string
	var es resource.AttrErrors
	switch e := err.(type) {
	case nil:
		return nil
	case resource.AttrErrors:
		es = e
	default:
		return []string{"not an attribute error: " + err.Error()}
	}
	for _, e := range es {
		out = append(out, e.Path[0].(cty.GetAttrStep).Name+": "+e.Summary)
	}
	return out
}

func TestValidate(t *testing.T) {
	host := resourcetest.HostValue(t, testHost)
	base := func(attrs map[string]cty.Value) map[string]cty.Value {
		out := map[string]cty.Value{"recipient": cty.StringVal("alice@example.com"), "server": cty.StringVal("127.0.0.3:25"),
			"host": host, "maildir": cty.StringVal("/var/mail/example.com/alice")}
		for k, v := range attrs {
			if v == cty.NilVal {
				delete(out, k)
				continue
			}
			out[k] = v
		}
		return out
	}
	null := cty.NilVal
	imap := imapVal("address", "127.0.0.3:143", "username", "alice@example.com", "password", "pw")
	tests := []struct {
		name  string
		attrs map[string]cty.Value
		want  []string
	}{
		{"maildir", base(nil), nil},
		{"imap", base(map[string]cty.Value{"host": null, "maildir": null, "imap": imap}), nil},
		{"mx via resolver", base(map[string]cty.Value{"server": null, "resolver": cty.StringVal("127.0.0.53")}), nil},
		{"reject", base(map[string]cty.Value{"expect": cty.StringVal("reject"), "host": null, "maildir": null}), nil},
		{"rcpt only", base(map[string]cty.Value{"deliver": cty.False, "host": null, "maildir": null}), nil},
		{"null sender", base(map[string]cty.Value{"sender": cty.StringVal("")}), nil},
		{"bad recipient", base(map[string]cty.Value{"recipient": cty.StringVal("Alice <alice@example.com>")}), []string{"recipient: Invalid address"}},
		{"no domain", base(map[string]cty.Value{"recipient": cty.StringVal("alice")}), []string{"recipient: Invalid address"}},
		{"bad sender", base(map[string]cty.Value{"sender": cty.StringVal("a b@x.y")}), []string{"sender: Invalid address"}},
		{"bad expect", base(map[string]cty.Value{"expect": cty.StringVal("bounce")}), []string{"expect: Invalid expect"}},
		{"no route", base(map[string]cty.Value{"server": null}), []string{"server: No route for the probe"}},
		{"two routes", base(map[string]cty.Value{"resolver": cty.StringVal("127.0.0.53")}), []string{"server: More than one route for the probe"}},
		{"bad server", base(map[string]cty.Value{"server": cty.StringVal("127.0.0.3:99999")}), []string{"server: Invalid server"}},
		{"bad port", base(map[string]cty.Value{"port": cty.NumberIntVal(0)}), []string{"port: Invalid port"}},
		{"bad helo", base(map[string]cty.Value{"helo": cty.StringVal("not a name")}), []string{"helo: Invalid EHLO name"}},
		{"reject with maildir", base(map[string]cty.Value{"expect": cty.StringVal("reject")}), []string{"host: Nothing to look for", "maildir: Nothing to look for"}},
		{"rcpt only with keep", base(map[string]cty.Value{"deliver": cty.False, "host": null, "maildir": null, "keep": cty.True}), []string{"keep: Nothing to keep"}},
		{"no location", base(map[string]cty.Value{"host": null, "maildir": null}), []string{"maildir: No place to look for the probe"}},
		{"two locations", base(map[string]cty.Value{"imap": imap}), []string{"imap: Two places to look for the probe"}},
		{"maildir without host", base(map[string]cty.Value{"host": null}), []string{"host: No host for the Maildir"}},
		{"relative maildir", base(map[string]cty.Value{"maildir": cty.StringVal("mail/alice")}), []string{"maildir: Invalid Maildir path"}},
		{"bad folder", base(map[string]cty.Value{"folder": cty.StringVal(".Sent")}), []string{"folder: Invalid folder"}},
		{"imap missing password", base(map[string]cty.Value{"host": null, "maildir": null, "imap": imapVal("address", "127.0.0.3", "username", "alice")}), []string{"imap: Missing IMAP setting"}},
		{"imap unknown key", base(map[string]cty.Value{"host": null, "maildir": null, "imap": imapVal("address", "127.0.0.3", "username", "alice", "password", "pw", "tls", "yes")}), []string{"imap: Unknown IMAP setting"}},
		{"bad timeout", base(map[string]cty.Value{"timeout": cty.StringVal("soon")}), []string{"timeout: Invalid duration"}},
		{"zero interval", base(map[string]cty.Value{"interval": cty.StringVal("0s")}), []string{"interval: Duration not positive"}},
		{"interval over timeout", base(map[string]cty.Value{"timeout": cty.StringVal("1s"), "interval": cty.StringVal("5s")}), []string{"interval: Interval longer than timeout"}},
	}
	p := New(nil, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := resourcetest.Config(t, p, tt.attrs)
			if diff := cmp.Diff(tt.want, problems(p.Validate(context.Background(), cfg))); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPasswordNeverShown: a bad password is named, never quoted, and
// the plan's pending step and the journal entry hold no password.
func TestPasswordNeverShown(t *testing.T) {
	const secret = "s3cr\xc3\xa9t-pass"
	p := New(nil, nil)
	cfg := resourcetest.Config(t, p, map[string]cty.Value{"recipient": cty.StringVal("alice@example.com"), "server": cty.StringVal("127.0.0.3"),
		"imap": imapVal("address", "127.0.0.3", "username", "alice@example.com", "password", secret)})
	err := p.Validate(context.Background(), cfg)
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("Validate: %v", err)
	}
	cfg = resourcetest.Config(t, p, map[string]cty.Value{"recipient": cty.StringVal("alice@example.com"), "server": cty.StringVal("127.0.0.3"),
		"imap": imapVal("address", "127.0.0.3", "username", "alice@example.com", "password", "hunter2")})
	_, plan := resourcetest.ReadPlan(context.Background(), t, p, cfg)
	if strings.Contains(plan.Pending, "hunter2") || !strings.Contains(plan.Pending, `mailbox "INBOX" of alice@example.com at IMAP 127.0.0.3:143`) {
		t.Errorf("pending step %q", plan.Pending)
	}
	c, err := decode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	j := &resourcetest.Journal{}
	if err := record(context.Background(), j, c, "mp-1", stateSending); err != nil {
		t.Fatal(err)
	}
	if e := string(j.Entries()[0]); strings.Contains(e, "hunter2") {
		t.Errorf("journal entry %s holds the password", e)
	}
}

func TestHeaderHas(t *testing.T) {
	msg := string(probeMessage("mp-abc", "postmaster@example.com", "alice@example.com", "mailplan.invalid", time.Unix(0, 0)))
	for _, tt := range []struct {
		name, msg, token string
		want             bool
	}{
		{"probe", msg, "mp-abc", true},
		{"other token", msg, "mp-abd", false},
		{"prefix of the token", msg, "mp-ab", false},
		{"lower case header", "x-mailplan-probe:  mp-abc\r\n\r\n", "mp-abc", true},
		{"in the body only", "Subject: x\r\n\r\nX-Mailplan-Probe: mp-abc\r\n", "mp-abc", false},
		{"no header end", "Subject: x\r\n", "mp-abc", false},
	} {
		got, err := headerHas(strings.NewReader(tt.msg), tt.token)
		if err != nil || got != tt.want {
			t.Errorf("%s: %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
	if !strings.Contains(msg, "Subject: mailplan delivery probe mp-abc\r\n") || !strings.Contains(msg, "\r\n\r\n") {
		t.Errorf("probe message:\n%s", msg)
	}
}

func TestIMAPQuote(t *testing.T) {
	if got := imapQuote(`a"b\c`); got != `"a\"b\\c"` {
		t.Errorf("imapQuote = %s", got)
	}
	for s, want := range map[string]bool{"plain": true, "with\r\nline": false, "caf\u00e9": false, `q"uote`: true} {
		if imapQuotable(s) != want {
			t.Errorf("imapQuotable(%q) != %v", s, want)
		}
	}
}
