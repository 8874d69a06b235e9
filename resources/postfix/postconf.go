package postfix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport"
)

// Hosts gives the connection to a host; *pool.Pool is one.
type Hosts = transport.Getter

// DefaultConfigDir is the config_dir of a resource that gives none.
const DefaultConfigDir = "/etc/postfix"

// instance is one Postfix instance: a host and the configuration directory
// every command is pointed at with -c, so that multi-instance hosts (and
// hosts with no /etc/postfix/main.cf at all) work.
type instance struct {
	h   transport.Host
	key string // host and directory, for locking and claims
	dir string
}

func newInstance(h transport.Host, host resource.Host, dir string) instance {
	return instance{h: h, key: host.Key() + "\x00" + dir, dir: dir}
}

// openInstance reaches the Postfix instance of config_dir dir on host.
func openInstance(ctx context.Context, hosts Hosts, host resource.Host, dir string) (instance, error) {
	h, err := hosts.Get(ctx, host)
	if err != nil {
		return instance{}, err
	}
	return newInstance(h, host, dir), nil
}

// orNull is log, or a logger that drops everything when there is none.
func orNull(log hclog.Logger) hclog.Logger {
	if log == nil {
		return hclog.NewNullLogger()
	}
	return log
}

// noMainCF is the problem of a config_dir without main.cf, at plan time.
func noMainCF(dir string, host resource.Host) error {
	return resource.Errorf("config_dir", "No Postfix configuration",
		"There is no %s on %s; config_dir must be the directory of a Postfix instance's main.cf (the -c of postconf).",
		path.Join(dir, "main.cf"), host)
}

// journal records the undo entry e, as JSON, before a change.
func journal(ctx context.Context, j resource.Journal, e any) error {
	entry, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := j.Record(ctx, entry); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// decodeRequest decodes a request's configuration with decode and its
// snapshot; a bad snapshot is an error of op ("plan", "apply",
// "restore") on what(c).
func decodeRequest[S, C any](decode func(cty.Value) (C, error), what func(C) string, op string, config cty.Value, snapshot []byte) (C, S, error) {
	var s S
	c, err := decode(config)
	if err != nil {
		return c, s, err
	}
	if err := json.Unmarshal(snapshot, &s); err != nil {
		return c, s, fmt.Errorf("%s %s: bad snapshot: %w", op, what(c), err)
	}
	return c, s, nil
}

// newestFirst decodes a journal's entries, newest first: the order a
// restore undoes them in.
func newestFirst[E any](journal [][]byte) ([]E, error) {
	es := make([]E, 0, len(journal)+1)
	for i := len(journal) - 1; i >= 0; i-- {
		var e E
		if err := json.Unmarshal(journal[i], &e); err != nil {
			return nil, err
		}
		es = append(es, e)
	}
	return es, nil
}

func (in instance) mainCF() string { return path.Join(in.dir, "main.cf") }

// editLocks serialises main.cf edits per instance. postconf(1) -e rewrites
// the whole file (read, edit, rename), so two edits at once on one
// instance lose one of them; and a map resource computes the new value of
// a shared parameter (two maps may both be listed in recipient_bcc_maps)
// from the value it reads, which must not change before it writes.
var editLocks sync.Map // instance key → *instanceEdits

// instanceEdits is the edit lock of one instance, and what the maps of
// this process added to its parameters, which only the holder of the lock
// reads or changes.
type instanceEdits struct {
	mu    sync.Mutex
	added map[string]*addition // by parameter name

	queue   queue   // maps joining a batch (commit.go)
	settler settler // checks and reloads (commit.go)

	memo paramMemo // what postconf said, by main.cf content (memo.go)

	// gen counts the releases of the edit lock (editLock, not lock): a
	// read that saw no release between its start and its taking of the
	// lock saw no edit of this process (see Map.lookParam).
	gen atomic.Uint64
}

func (in instance) edits() *instanceEdits {
	if e, ok := editLocks.Load(in.key); ok {
		return e.(*instanceEdits)
	}
	e, _ := editLocks.LoadOrStore(in.key, &instanceEdits{added: map[string]*addition{}})
	return e.(*instanceEdits)
}

func (in instance) lock() func() {
	e := in.edits()
	e.mu.Lock()
	return e.mu.Unlock
}

// editLock serialises an edit of main.cf with every other run editing
// this instance, in this process (lock) and on the host (flock on the
// configuration directory itself, transport.HostLock: nothing is created
// there; whoever holds it too long is named): ten runs from ten plan directories,
// or from two machines, adding tables to one parameter all keep theirs.
// The read of the value to change must come after it.
func (in instance) editLock(ctx context.Context) (func(), error) {
	unlock := in.lock()
	release, err := transport.HostLock(ctx, in.h, in.dir)
	if err != nil {
		unlock()
		return nil, err
	}
	return func() {
		release()
		in.edits().gen.Add(1)
		unlock()
	}, nil
}

// run runs a Postfix command and returns its result; a command that could
// not be run at all is an error, a non-zero exit is not.
func (in instance) run(ctx context.Context, argv []string, opts transport.RunOptions) (transport.Result, error) {
	cctx, cancel := context.WithTimeoutCause(ctx, commandTimeout, errCommandTimeout)
	defer cancel()
	res, err := in.h.Run(cctx, argv, opts)
	if err != nil {
		if ctx.Err() == nil && errors.Is(context.Cause(cctx), errCommandTimeout) {
			err = fmt.Errorf("%w (%s): Postfix's commands wait for its logger, postlogd or syslog, which may be stuck", errCommandTimeout, commandTimeout)
		}
		return res, fmt.Errorf("run %s on %s: %w", strings.Join(argv, " "), in.h.Name(), err)
	}
	return res, nil
}

// commandTimeout is how long a Postfix command (postconf, postmap,
// postfix status, check or reload) may run: far longer than any takes,
// but an apply must not wait for ever on one that hangs. A wedged
// logger does that: postfix status logs through postlogd, and a
// postlogd blocked on its own full socket blocked it for 27 minutes in a
// test run.
var commandTimeout = 5 * time.Minute

// errCommandTimeout is the error of a Postfix command that ran longer
// than commandTimeout.
var errCommandTimeout = errors.New("did not finish in time")

// runOK runs a command that must exit 0.
func (in instance) runOK(ctx context.Context, argv ...string) (transport.Result, error) {
	res, err := in.run(ctx, argv, transport.RunOptions{})
	if err != nil {
		return res, err
	}
	if err := res.Err(argv); err != nil {
		return res, fmt.Errorf("on %s: %w", in.h.Name(), err)
	}
	return res, nil
}

// param is the state of one main.cf parameter.
type param struct {
	Name string `json:"name"`
	// Set says whether main.cf sets it explicitly (postconf -n lists it);
	// when not, it has its default and Value is "".
	Set   bool   `json:"set"`
	Value string `json:"value,omitempty"`
	// Default is the value when it is not set (postconf -h), which a
	// list edit starts from.
	Default string `json:"default,omitempty"`
	// Raw is the parameter's logical line in main.cf exactly as written
	// (continuation lines included), so that a restore can put back its
	// formatting as well as its value; postconf -e writes "NAME = VALUE".
	Raw string `json:"raw,omitempty"`
}

// params reads the explicit values of names with `postconf -c DIR -n NAME…`
// (postconf(1): -n shows only parameters set in main.cf; the value is
// printed as written, not expanded). Names postconf does not know are
// returned in unknown: it warns "NAME: unknown parameter" for them.
func (in instance) params(ctx context.Context, names []string) (vals map[string]param, unknown []string, err error) {
	vals = make(map[string]param, len(names))
	for _, n := range names {
		vals[n] = param{Name: n}
	}
	if len(names) == 0 {
		return vals, nil, nil
	}
	argv := append([]string{"postconf", "-c", in.dir, "-n"}, names...)
	res, err := in.runOK(ctx, argv...)
	if err != nil {
		return nil, nil, err
	}
	for _, line := range strings.Split(string(res.Stdout), "\n") {
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		name = strings.TrimSpace(name)
		if _, want := vals[name]; want {
			vals[name] = param{Name: name, Set: true, Value: strings.TrimSpace(value)}
		}
	}
	for _, line := range strings.Split(string(res.Stderr), "\n") {
		if _, rest, ok := strings.Cut(line, "warning: "); ok {
			if n, ok := strings.CutSuffix(strings.TrimSpace(rest), ": unknown parameter"); ok {
				unknown = append(unknown, n)
			}
		}
	}
	return vals, unknown, nil
}

// putAll makes each parameter what its param says, in at most two
// commands: `postconf -c DIR -e 'NAME = VALUE'…` for those set (edited in
// place, or appended), `postconf -c DIR -X NAME…` for those not (removed,
// so they fall back to their defaults) (postconf(1) -e, -X). The caller
// holds the instance's edit lock; restoreRaw then puts back forms.
func (in instance) putAll(ctx context.Context, ps []param) error {
	setArgv := []string{"postconf", "-c", in.dir, "-e"}
	unsetArgv := []string{"postconf", "-c", in.dir, "-X"}
	for _, p := range ps {
		if p.Set {
			setArgv = append(setArgv, p.Name+" = "+p.Value)
		} else {
			unsetArgv = append(unsetArgv, p.Name)
		}
	}
	edited := false
	for _, argv := range [][]string{setArgv, unsetArgv} {
		if len(argv) > 4 {
			if _, err := in.runOK(ctx, argv...); err != nil {
				return err
			}
			edited = true
		}
	}
	if edited {
		in.coolDown(ctx)
	}
	return nil
}

// cooledAge is how far coolDown sets main.cf's modification time back.
const cooledAge = 2 * time.Second

// coolDown sets the modification time of the main.cf mailplan just wrote
// cooledAge back from the one the write gave it (the host's clock), so
// that the next Postfix command does not wait for it. Every Postfix
// program reads main.cf through dict_load_file_xt (util/dict.c), which
// reads it again, after a 300 ms doze, for as long as its mtime is within
// a second of now ("pausing to let main.cf cool down"): a guard against
// an editor still writing the file in place. Each command after an edit
// slept about 1.5 s for it, which was most of an apply's time. The guard
// has nothing to guard here: postconf -e and WriteFile both write a new
// file and rename it into place (under the instance's edit lock and host
// lock), so a reader sees the old file or the whole new one, never a part
// of it. Nothing compares main.cf's mtime: Postfix daemons do not watch
// it (a reload makes them read it), and mailplan's snapshots, restores
// and fingerprints look at its bytes only. The caller holds the edit
// lock. A failure only costs the wait, so it is not an error.
func (in instance) coolDown(ctx context.Context) {
	fi, err := in.h.Stat(ctx, in.mainCF())
	if err != nil || !fi.IsRegular() {
		return
	}
	_ = in.h.Chtimes(ctx, in.mainCF(), fi.ModTime.Add(-cooledAge))
}

// restoreRaw rewrites the logical line of each parameter in main.cf as
// its Raw when the line postconf -e wrote has the same value in another
// form (a value once spread over continuation lines, or written
// "name=value"): postconf(1) -e always writes "NAME = VALUE" on one line.
// A parameter whose line is not there exactly once, or holds another
// value, is left alone. It reads main.cf once and writes it at most once.
// The caller holds the instance's edit lock.
func (in instance) restoreRaw(ctx context.Context, ps []param) error {
	want := map[string]param{}
	for _, p := range ps {
		if got, ok := rawValue(p.Raw); ok && p.Set && got == p.Value {
			want[p.Name] = p
		}
	}
	if len(want) == 0 {
		return nil
	}
	data, err := in.h.ReadFile(ctx, in.mainCF())
	if err != nil {
		return fmt.Errorf("read %s on %s: %w", in.mainCF(), in.h.Name(), err)
	}
	lines := parseMainCF(data)
	count := map[string]int{}
	for _, l := range lines {
		count[l.Name]++
	}
	var out []byte
	last, edited := 0, false
	for _, l := range lines {
		p, ok := want[l.Name]
		if !ok || count[l.Name] != 1 || l.Value != p.Value || string(data[l.Start:l.End]) == p.Raw {
			continue
		}
		out = append(append(out, data[last:l.Start]...), p.Raw...)
		last, edited = l.End, true
	}
	if !edited {
		return nil
	}
	out = append(out, data[last:]...)
	fi, err := in.h.Stat(ctx, in.mainCF())
	if err != nil {
		return fmt.Errorf("stat %s on %s: %w", in.mainCF(), in.h.Name(), err)
	}
	opts := transport.WriteOptions{Mode: fi.Mode.Perm(), UID: fi.UID, GID: fi.GID}
	if err := in.h.WriteFile(ctx, in.mainCF(), out, opts); err != nil {
		return fmt.Errorf("write %s on %s: %w", in.mainCF(), in.h.Name(), err)
	}
	in.coolDown(ctx)
	return nil
}

// readMainCF returns main.cf, or nil and no error when there is none.
func (in instance) readMainCF(ctx context.Context) ([]byte, error) {
	data, err := in.h.ReadFile(ctx, in.mainCF())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s on %s: %w", in.mainCF(), in.h.Name(), err)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

// rawLines finds the logical line of each parameter in main.cf.
func rawLines(mainCF []byte, vals map[string]param) {
	seen := map[string]int{}
	raw := map[string]string{}
	for _, l := range parseMainCF(mainCF) {
		if _, ok := vals[l.Name]; ok {
			seen[l.Name]++
			raw[l.Name] = string(mainCF[l.Start:l.End])
		}
	}
	for name, p := range vals {
		if p.Set && seen[name] == 1 {
			p.Raw = raw[name]
			vals[name] = p
		}
	}
}

// check runs `postfix -c DIR check` (postfix(1): checks the configuration
// and the permissions of Postfix files); its complaints are the error.
// A main.cf the postfix command cannot even parse makes it exit 1 in
// silence: it reports fatal errors on stderr only when stderr is a
// terminal, else to syslog, before any maillog_file is set up. postmap(1)
// always writes to stderr and parses the same global parameters, so a
// lookup of a static: table gets the reason.
func (in instance) check(ctx context.Context) error {
	argv := []string{"postfix", "-c", in.dir, "check"}
	res, err := in.run(ctx, argv, transport.RunOptions{})
	if err != nil {
		return err
	}
	if res.ExitCode == 0 {
		return nil
	}
	if strings.TrimSpace(string(res.Stderr)+string(res.Stdout)) == "" {
		why, err := in.run(ctx, []string{"postmap", "-c", in.dir, "-q", "mailplan-probe", "static:ok"}, transport.RunOptions{})
		if err == nil {
			res.Stderr = []byte(warnings(why.Stderr))
		}
	}
	return fmt.Errorf("postfix check failed after the change on %s: %w", in.h.Name(), res.Err(argv))
}

// running reports whether the instance runs: `postfix -c DIR status`
// exits 0 when the master daemon is up (postfix(1) status).
func (in instance) running(ctx context.Context) (bool, error) {
	res, err := in.run(ctx, []string{"postfix", "-c", in.dir, "status"}, transport.RunOptions{})
	if err != nil {
		return false, err
	}
	return res.ExitCode == 0, nil
}

// reloadIfRunning runs `postfix -c DIR reload` (postfix(1): re-read the
// configuration; running processes finish their work, no connection is
// dropped) when the instance runs.
func (in instance) reloadIfRunning(ctx context.Context, log hclog.Logger) error {
	up, err := in.running(ctx)
	if err != nil || !up {
		return err
	}
	if log != nil {
		log.Debug("reloading postfix", "config_dir", in.dir)
	}
	_, err = in.runOK(ctx, "postfix", "-c", in.dir, "reload")
	return err
}

// mapTypes lists the lookup table types the instance supports
// (postconf(1) -m); pcre, lmdb and cdb come from optional packages.
func (in instance) mapTypes(ctx context.Context) (map[string]bool, error) {
	if v, ok := facts.Load(in.key + "\x00-m"); ok {
		return v.(map[string]bool), nil
	}
	res, err := in.runOK(ctx, "postconf", "-c", in.dir, "-m")
	if err != nil {
		return nil, err
	}
	types := map[string]bool{}
	for _, f := range strings.Fields(string(res.Stdout)) {
		types[f] = true
	}
	facts.Store(in.key+"\x00-m", types)
	return types, nil
}

// facts remembers, per instance, what its Postfix programs say about
// themselves rather than about main.cf: the table types (postconf -m) and
// built-in defaults (postconf -d). They come with the installed Postfix
// and do not change while a run goes on, and a plan of many maps on one
// instance asked once per map and per read: one command each over SSH.
// Values are never changed once stored.
var facts sync.Map // instance key + "\x00-m" or "\x00-d " + name → value

// postmap compiles the table at p (postmap(1) TYPE:PATH writes PATH.db,
// PATH.lmdb or PATH.cdb beside it).
func (in instance) postmap(ctx context.Context, typ, p string) error {
	res, err := in.runOK(ctx, "postmap", "-c", in.dir, typ+":"+p)
	if err != nil {
		return err
	}
	if w := warnings(res.Stderr); w != "" {
		return fmt.Errorf("postmap %s:%s on %s: %s", typ, p, in.h.Name(), w)
	}
	return nil
}

// probe opens a candidate regexp or pcre table the way Postfix would and
// returns Postfix's warnings about it. The table is given on standard
// input (TYPE:/dev/stdin), so nothing is written on the host and the
// installed table is never touched: `postmap -q KEY` (postmap(1)) parses
// the whole table before the lookup and reports every line it rejects as
// "warning: TYPE map FILE, line N: …".
func (in instance) probe(ctx context.Context, typ string, table []byte) (string, error) {
	argv := []string{"postmap", "-c", in.dir, "-q", "mailplan-probe@invalid", typ + ":/dev/stdin"}
	res, err := in.run(ctx, argv, transport.RunOptions{Stdin: bytes.NewReader(table)})
	if err != nil {
		return "", err
	}
	// Exit 1 with no message is "not found", the expected answer.
	if w := warnings(res.Stderr); w != "" {
		return w, nil
	}
	if res.ExitCode > 1 {
		return "", res.Err(argv)
	}
	return "", nil
}

// warnings returns the warning and fatal lines of a Postfix command's
// stderr, but for mainCFReread's.
func warnings(stderr []byte) string {
	var out []string
	for _, line := range strings.Split(string(stderr), "\n") {
		if (strings.Contains(line, "warning: ") || strings.Contains(line, "fatal: ")) && !mainCFReread.MatchString(line) {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return strings.Join(out, "\n")
}

// mainCFReread is the warning a Postfix command gives when main.cf
// changed between its two reads of it: postmap(1) reads main.cf twice,
// and a postconf -e of another run (which renames a new main.cf into
// place) in between makes the second read warn "overriding earlier
// entry" with the first read's value. It says nothing about the table
// postmap was asked about, and it comes from main.cf whichever way it
// arose, so it is no reason to refuse the table.
var mainCFReread = regexp.MustCompile(`/main\.cf, line \d+: overriding earlier entry: `)

// builtinDefault is Postfix's built-in default of the parameter
// (`postconf -d -h NAME`, which does not read main.cf's value): what the
// parameter is once main.cf no longer sets it.
func (in instance) builtinDefault(ctx context.Context, name string) (string, error) {
	key := in.key + "\x00-d " + name
	if v, ok := facts.Load(key); ok {
		return v.(string), nil
	}
	res, err := in.runOK(ctx, "postconf", "-c", in.dir, "-d", "-h", name)
	if err != nil {
		return "", err
	}
	v := normalize(string(res.Stdout))
	facts.Store(key, v)
	return v, nil
}
