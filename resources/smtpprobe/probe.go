package smtpprobe

import (
	"context"
	"fmt"
	"net"
	"net/mail"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport"
	"github.com/mailplan/mailplan/resources/transport/dnsclient"
)

// DNSPool gives the DNS client of a dns_server block; *dnsclient.Pool is
// one.
type DNSPool interface {
	Get(s resource.DNSServer) (*dnsclient.Client, error)
}

// Probe is the `smtp_probe` resource type: a gate that sends a probe
// message and proves it lands where it should (or is refused).
type Probe struct {
	hosts transport.Getter
	dns   DNSPool
}

var (
	_ resource.Type          = (*Probe)(nil)
	_ resource.Validator     = (*Probe)(nil)
	_ resource.Checker       = (*Probe)(nil)
	_ resource.Fingerprinter = (*Probe)(nil)
)

// New returns the smtp_probe type, reaching hosts (for Maildirs) through
// hosts and dns_server blocks through dns.
func New(hosts transport.Getter, dns DNSPool) *Probe { return &Probe{hosts: hosts, dns: dns} }

// Defaults and values of smtp_probe.
const (
	DefaultTimeout  = "2m"
	DefaultInterval = "2s"
	DefaultHelo     = "mailplan.invalid"
	DefaultPort     = 25
	DefaultMailbox  = "INBOX"
	DefaultIMAPPort = "143"

	ExpectAccept = "accept"
	ExpectReject = "reject"
)

var schema = &resource.Schema{Attributes: map[string]*resource.Attribute{
	"recipient": {Type: cty.String, Required: true, Identity: true, ShowUnchanged: true,
		Description: "The address the probe is sent to."},
	"sender": {Type: cty.String,
		Description: "The envelope sender (MAIL FROM); default postmaster@ the recipient's domain; \"\" is the null sender <>."},
	"server": {Type: cty.String,
		Description: "The SMTP server, \"host:port\" (port 25 when left out). Without it the recipient domain's MX hosts are used, found through dns_server or resolver."},
	"dns_server": {Type: resource.DNSServerType, Kind: resource.DNSServerRef,
		Description: "A dns_server block serving the recipient domain (and its MX hosts' addresses), asked without recursion."},
	"resolver": {Type: cty.String,
		Description: "A recursive DNS resolver, \"host:port\" (port 53 when left out), asked for the MX hosts."},
	"port": {Type: cty.Number, Default: cty.NumberIntVal(DefaultPort),
		Description: "The SMTP port of the MX hosts (and of server when it names none)."},
	"helo": {Type: cty.String, Default: cty.StringVal(DefaultHelo),
		Description: "The name given in EHLO."},
	"tls": {Type: cty.Bool, Default: cty.False,
		Description: "Use STARTTLS (required when true), verifying the server's certificate against its name."},
	"expect": {Type: cty.String, Default: cty.StringVal(ExpectAccept),
		Description: "\"accept\": the recipient must be accepted; \"reject\": RCPT TO must be refused with a 5xx reply."},
	"deliver": {Type: cty.Bool, Default: cty.True,
		Description: "With expect = \"accept\": send the message and find it (true), or stop after RCPT TO (false)."},
	"host": {Type: resource.HostType, Kind: resource.HostRef,
		Description: "The host the Maildir is on."},
	"maildir": {Type: cty.String,
		Description: "The recipient's Maildir on host, where the probe must land."},
	"folder": {Type: cty.String,
		Description: "A Maildir++ folder of maildir (\"Probes\" for .Probes) to look in instead of the INBOX."},
	"imap": {Type: cty.Map(cty.String), Sensitive: true,
		Description: "Where the probe must land, over IMAP: { address, username, password, mailbox }."},
	"keep": {Type: cty.Bool, Default: cty.False,
		Description: "Leave the probe where it landed; a rollback removes it."},
	"timeout": {Type: cty.String, Default: cty.StringVal(DefaultTimeout),
		Description: "How long the probe may take to be decided and found, as a Go duration."},
	"interval": {Type: cty.String, Default: cty.StringVal(DefaultInterval),
		Description: "The time between two tries of the SMTP server and between two looks for the probe."},
}}

// Name implements resource.Type.
func (*Probe) Name() string { return "smtp_probe" }

// Schema implements resource.Type.
func (*Probe) Schema() *resource.Schema { return schema }

type probeConfig struct {
	Recipient string            `cty:"recipient"`
	Sender    *string           `cty:"sender"`
	Server    *string           `cty:"server"`
	DNSServer cty.Value         `cty:"dns_server"`
	Resolver  *string           `cty:"resolver"`
	Port      int               `cty:"port"`
	Helo      string            `cty:"helo"`
	TLS       bool              `cty:"tls"`
	Expect    string            `cty:"expect"`
	Deliver   bool              `cty:"deliver"`
	Host      cty.Value         `cty:"host"`
	Maildir   *string           `cty:"maildir"`
	Folder    *string           `cty:"folder"`
	IMAP      map[string]string `cty:"imap"`
	Keep      bool              `cty:"keep"`
	Timeout   string            `cty:"timeout"`
	Interval  string            `cty:"interval"`

	domain    string
	sender    string // "" for the null sender
	dnsServer *resource.DNSServer
	host      *resource.Host
	imap      *imapConfig
	timeout   time.Duration
	interval  time.Duration
	cfg       cty.Value
}

// looks reports whether the probe is delivered and looked for.
func (c probeConfig) looks() bool { return c.Expect == ExpectAccept && c.Deliver }

func decode(v cty.Value) (probeConfig, error) {
	c := probeConfig{Port: DefaultPort, Helo: DefaultHelo, Expect: ExpectAccept, Deliver: true, Timeout: DefaultTimeout, Interval: DefaultInterval}
	if err := resource.Decode(v, &c); err != nil {
		return c, fmt.Errorf("smtp_probe: %w", err)
	}
	if errs := check(c); len(errs) > 0 {
		return c, fmt.Errorf("smtp_probe: %w", errs)
	}
	c.cfg, _ = v.UnmarkDeep()
	c.domain = domainOf(c.Recipient)
	c.sender = "postmaster@" + c.domain
	if c.Sender != nil {
		c.sender = *c.Sender
	}
	if !c.DNSServer.IsNull() {
		s, err := resource.DNSServerFromValue(c.DNSServer)
		if err != nil {
			return c, fmt.Errorf("smtp_probe: dns_server: %w", err)
		}
		c.dnsServer = &s
	}
	if !c.Host.IsNull() {
		h, err := resource.HostFromValue(c.Host)
		if err != nil {
			return c, fmt.Errorf("smtp_probe: host: %w", err)
		}
		c.host = &h
	}
	if c.IMAP != nil {
		ic := imapConfig{Address: c.IMAP["address"], Username: c.IMAP["username"], Password: c.IMAP["password"], Mailbox: c.IMAP["mailbox"]}
		if _, _, err := net.SplitHostPort(ic.Address); err != nil {
			ic.Address = net.JoinHostPort(strings.Trim(ic.Address, "[]"), DefaultIMAPPort)
		}
		if ic.Mailbox == "" {
			ic.Mailbox = DefaultMailbox
		}
		c.imap = &ic
	}
	c.timeout, _ = time.ParseDuration(c.Timeout)
	c.interval, _ = time.ParseDuration(c.Interval)
	return c, nil
}

func domainOf(addr string) string {
	_, d, _ := strings.Cut(addr, "@")
	return strings.ToLower(d)
}

// Validate implements resource.Validator.
func (*Probe) Validate(ctx context.Context, config cty.Value) error {
	config, _ = config.UnmarkDeep()
	if config.IsNull() || !config.IsWhollyKnown() {
		// Checked at plan time, once every value is known.
		return nil
	}
	var c probeConfig
	if err := resource.Decode(config, &c); err != nil {
		return err
	}
	return check(c).Err()
}

// check finds the problems of a decoded configuration, by attribute.
func check(c probeConfig) resource.AttrErrors {
	var errs resource.AttrErrors
	add := func(attr, summary, format string, args ...any) {
		errs = append(errs, resource.Errorf(attr, summary, format, args...))
	}
	if !plainAddress(c.Recipient) {
		add("recipient", "Invalid address", "recipient %q is not a plain mail address like user@example.com (no display name, no angle brackets, ASCII only, a domain with a dot).", c.Recipient)
	}
	if c.Sender != nil && *c.Sender != "" && !plainAddress(*c.Sender) {
		add("sender", "Invalid address", "sender %q is not a plain mail address like postmaster@example.com; \"\" is the null sender.", *c.Sender)
	}
	routes := 0
	for _, set := range []bool{c.Server != nil, !c.DNSServer.IsNull(), c.Resolver != nil} {
		if set {
			routes++
		}
	}
	switch {
	case routes == 0:
		add("server", "No route for the probe", "Set server (\"host:port\") to send the probe to one server, or dns_server or resolver to send it to the recipient domain's MX hosts as the world would.")
	case routes > 1:
		add("server", "More than one route for the probe", "Set only one of server, dns_server and resolver.")
	}
	if c.Server != nil && !validHostPort(*c.Server) {
		add("server", "Invalid server", "server %q is not \"host\" or \"host:port\" (a name, an IPv4 address or a bracketed IPv6 address, and a port from 1 to 65535).", *c.Server)
	}
	if c.Resolver != nil && !validHostPort(*c.Resolver) {
		add("resolver", "Invalid resolver", "resolver %q is not \"host\" or \"host:port\".", *c.Resolver)
	}
	if c.Port < 1 || c.Port > 65535 {
		add("port", "Invalid port", "port %d is not from 1 to 65535.", c.Port)
	}
	if !validHelo(c.Helo) {
		add("helo", "Invalid EHLO name", "helo %q is not a domain name (letters, digits, hyphens and dots) or an address literal like [192.0.2.1].", c.Helo)
	}
	if c.Expect != ExpectAccept && c.Expect != ExpectReject {
		add("expect", "Invalid expect", "expect %q is neither \"accept\" nor \"reject\".", c.Expect)
	} else {
		errs = append(errs, checkLocation(c)...)
	}
	tm, terr := checkDuration(&errs, "timeout", c.Timeout)
	iv, ierr := checkDuration(&errs, "interval", c.Interval)
	if terr == nil && ierr == nil && iv > tm {
		add("interval", "Interval longer than timeout", "interval %q is longer than timeout %q: the probe would be looked for at most once.", c.Interval, c.Timeout)
	}
	return errs
}

// checkLocation checks where the probe is looked for: somewhere, and
// only once, when it is delivered; nowhere when it is not.
func checkLocation(c probeConfig) resource.AttrErrors {
	var errs resource.AttrErrors
	add := func(attr, summary, format string, args ...any) {
		errs = append(errs, resource.Errorf(attr, summary, format, args...))
	}
	set := map[string]bool{"host": !c.Host.IsNull(), "maildir": c.Maildir != nil, "folder": c.Folder != nil, "imap": c.IMAP != nil}
	if !c.looks() {
		why := "deliver = false: only RCPT TO is tried and nothing is sent"
		if c.Expect == ExpectReject {
			why = "expect = \"reject\": the recipient must be refused and nothing is sent"
		}
		for _, a := range []string{"host", "maildir", "folder", "imap"} {
			if set[a] {
				add(a, "Nothing to look for", "With %s, so there is no probe to look for: remove %s.", why, a)
			}
		}
		if c.Keep {
			add("keep", "Nothing to keep", "With %s, so there is no probe to keep: remove keep.", why)
		}
		return errs
	}
	switch {
	case c.Maildir == nil && c.IMAP == nil:
		add("maildir", "No place to look for the probe", "Set maildir (with host) or imap: where the probe to %s must land.", c.Recipient)
	case c.Maildir != nil && c.IMAP != nil:
		add("imap", "Two places to look for the probe", "Set maildir (with host) or imap, not both.")
	}
	if c.Maildir != nil {
		if p := *c.Maildir; !path.IsAbs(p) || path.Clean(p) != p {
			add("maildir", "Invalid Maildir path", "maildir %q must be an absolute, clean path like /var/mail/vhosts/example.com/alice.", p)
		}
		if !set["host"] {
			add("host", "No host for the Maildir", "Set host: the host the Maildir %s is on.", *c.Maildir)
		}
	} else {
		if set["host"] {
			add("host", "Host without a Maildir", "host is only used with maildir; remove it, or set maildir.")
		}
		if set["folder"] {
			add("folder", "Folder without a Maildir", "folder is a Maildir++ folder of maildir; with imap, set imap's mailbox instead.")
		}
	}
	if c.Folder != nil {
		f := *c.Folder
		if f == "" || strings.HasPrefix(f, ".") || strings.ContainsAny(f, "/\x00") || !imapQuotable(f) || f == ".." {
			add("folder", "Invalid folder", "folder %q must be a Maildir++ folder name as Dovecot shows it (\"Probes\", \"Archive.2024\"): ASCII, no slash, not starting with a dot.", f)
		}
	}
	if c.IMAP != nil {
		errs = append(errs, checkIMAP(c.IMAP)...)
	}
	return errs
}

// checkIMAP checks the imap map. Its password is never quoted.
func checkIMAP(m map[string]string) resource.AttrErrors {
	var errs resource.AttrErrors
	add := func(summary, format string, args ...any) {
		errs = append(errs, resource.Errorf("imap", summary, format, args...))
	}
	known := []string{"address", "username", "password", "mailbox"}
	for k := range m {
		if !slices.Contains(known, k) {
			add("Unknown IMAP setting", "imap has no setting %q; it takes address, username, password and mailbox.", k)
		}
	}
	for _, k := range []string{"address", "username", "password"} {
		if m[k] == "" {
			add("Missing IMAP setting", "imap needs %s.", k)
		}
	}
	if a := m["address"]; a != "" && !validHostPort(a) {
		add("Invalid IMAP address", "imap address %q is not \"host\" or \"host:port\" (port 143 when left out).", a)
	}
	if !imapQuotable(m["username"]) || !imapQuotable(m["mailbox"]) {
		add("Invalid IMAP setting", "imap username and mailbox must be printable ASCII.")
	}
	if !imapQuotable(m["password"]) {
		add("Invalid IMAP password", "The imap password holds a character an IMAP quoted string cannot carry (a line end, NUL or non-ASCII).")
	}
	return errs
}

func checkDuration(errs *resource.AttrErrors, attr, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		*errs = append(*errs, resource.Errorf(attr, "Invalid duration", "%s %q is not a duration; write it like \"30s\" or \"2m\".", attr, v))
	case d <= 0:
		err = fmt.Errorf("not positive")
		*errs = append(*errs, resource.Errorf(attr, "Duration not positive", "%s %q must be longer than zero.", attr, v))
	}
	return d, err
}

// plainAddress reports whether s is local@domain, nothing else.
func plainAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || strings.ContainsAny(s, "<> \t") {
		return false
	}
	for _, r := range s {
		if r > 0x7e || r < 0x21 {
			return false
		}
	}
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && validDomain(domain)
}

func validDomain(d string) bool {
	d = strings.TrimSuffix(d, ".")
	if !strings.Contains(d, ".") || len(d) > 253 {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

func validHelo(s string) bool {
	if inner, ok := strings.CutPrefix(s, "["); ok {
		inner, ok = strings.CutSuffix(inner, "]")
		return ok && net.ParseIP(strings.TrimPrefix(inner, "IPv6:")) != nil
	}
	return validDomain(s) || s == "localhost"
}

// validHostPort accepts "host" and "host:port" (IPv6 in brackets).
func validHostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = strings.Trim(s, "[]"), "1"
		if strings.Contains(host, ":") && net.ParseIP(host) == nil {
			return false
		}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return false
	}
	return host != "" && (net.ParseIP(host) != nil || validDomain(host) || host == "localhost" || !strings.Contains(host, ".") && validDomain(host+".x"))
}

// route names where the probe goes, for the plan and messages.
func (c probeConfig) route() string {
	switch {
	case c.Server != nil:
		host, port := splitServer(*c.Server, c.Port)
		return net.JoinHostPort(host, port)
	case c.dnsServer != nil:
		return fmt.Sprintf("the MX hosts of %s (from dns_server %q), port %d", c.domain, c.dnsServer.Name, c.Port)
	case c.Resolver != nil:
		return fmt.Sprintf("the MX hosts of %s (from resolver %s), port %d", c.domain, *c.Resolver, c.Port)
	}
	return "nowhere"
}

// where names the place the probe is looked for.
func (c probeConfig) where() string {
	switch {
	case c.imap != nil:
		return c.imap.where()
	case c.Maildir != nil:
		dir := *c.Maildir
		if c.Folder != nil {
			dir = path.Join(dir, "."+*c.Folder)
		}
		return fmt.Sprintf("Maildir %s on %s", dir, c.host)
	}
	return ""
}

// describe is what the gate will do, for the plan.
func (c probeConfig) describe() string {
	switch {
	case c.Expect == ExpectReject:
		return fmt.Sprintf("at apply: RCPT TO:<%s> via %s must be refused (5xx); nothing is sent", c.Recipient, c.route())
	case !c.Deliver:
		return fmt.Sprintf("at apply: RCPT TO:<%s> via %s must be accepted; nothing is sent (RSET after RCPT)", c.Recipient, c.route())
	}
	after := "then remove it"
	if c.Keep {
		after = "and keep it (a rollback removes it)"
	}
	return fmt.Sprintf("at apply: send a probe to %s via %s and find it in %s within %s, %s", c.Recipient, c.route(), c.where(), c.Timeout, after)
}

// Read implements resource.Type. The gate reads nothing: what it proves
// is only known by sending. Current is the configuration.
func (*Probe) Read(ctx context.Context, req resource.ReadRequest) (resource.ReadResponse, error) {
	c, err := decode(req.Config)
	if err != nil {
		return resource.ReadResponse{}, err
	}
	return resource.ReadResponse{Current: c.cfg, Snapshot: []byte("{}")}, nil
}

// Plan implements resource.Type: never a change, so that a plan with
// nothing else to do says so. What the probe will do is shown as the
// instance's pending step; the engine checks the gate at apply time
// (Check) in dependency order.
func (*Probe) Plan(ctx context.Context, req resource.PlanRequest) (resource.PlanResponse, error) {
	c, err := decode(req.Config)
	if err != nil {
		return resource.PlanResponse{}, err
	}
	return resource.PlanResponse{Planned: c.cfg, Pending: c.describe()}, nil
}

// Fingerprint implements resource.Fingerprinter: nothing the gate reads
// makes a saved plan stale.
func (*Probe) Fingerprint(current cty.Value) []byte { return []byte("smtp_probe") }

// Check implements resource.Checker: the probe is sent and looked for
// every time an apply reaches the gate.
func (t *Probe) Check(ctx context.Context, req resource.ApplyRequest) error {
	_, err := t.Apply(ctx, req)
	return err
}

func orNull(log hclog.Logger) hclog.Logger {
	if log == nil {
		return hclog.NewNullLogger()
	}
	return log
}
