package ssh

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/mailplan/mailplan/resources/transport"
)

var _ transport.AccessChecker = (*Host)(nil)

// access holds a connection's answers to CheckAccess: whether sudo works
// is asked once, each directory once.
type access struct {
	mu       sync.Mutex
	sudoDone bool
	sudoErr  error
	writable map[string]*transport.AccessError // nil: writable
}

// writableScript prints, for each directory argument, "w DIR" or "- DIR"
// (NUL-terminated) where DIR is the argument or, when it is not there
// yet, the nearest directory above it that is: test(1)'s -w is
// access(2) as the user, so it counts groups, ACLs and read-only mounts.
const writableScript = `for d do
	e=$d
	while [ ! -e "$e" ] && [ ! -L "$e" ] && [ "$e" != / ]; do e=$(dirname -- "$e"); done
	if [ -w "$e" ]; then printf 'w %s\0' "$e"; else printf -- '- %s\0' "$e"; fi
done`

// CheckAccess implements transport.AccessChecker: with sudo, `sudo -n
// true` (one command per connection); without, one `sh -c` running test
// -w on the directories not asked about yet. A login whose shell cannot
// run the check (an SFTP-only account) is not refused here: its writes
// are checked when they are made.
func (h *Host) CheckAccess(ctx context.Context, dirs []string) error {
	a := &h.access
	a.mu.Lock()
	defer a.mu.Unlock()
	if h.cfg.Sudo {
		if !a.sudoDone {
			err := h.checkSudo(ctx)
			if _, ok := err.(*transport.AccessError); !ok && err != nil {
				return err // not an answer (connection lost): ask again next time
			}
			a.sudoDone, a.sudoErr = true, err
		}
		return a.sudoErr
	}
	if a.writable == nil {
		a.writable = map[string]*transport.AccessError{}
	}
	var ask []string
	for _, d := range dirs {
		if _, ok := a.writable[d]; !ok && !slices.Contains(ask, d) {
			ask = append(ask, d)
		}
	}
	if len(ask) > 0 {
		argv := append([]string{"sh", "-c", writableScript, "sh"}, ask...)
		res, err := h.Run(ctx, argv, transport.RunOptions{})
		if err != nil {
			return err
		}
		found, ok := parseWritable(res.Stdout, len(ask))
		if res.ExitCode != 0 || !ok {
			h.log.Debug("cannot check write access", "host", h.cfg.Name, "exit", res.ExitCode, "stderr", firstLine(res.Stderr))
		}
		for i, d := range ask {
			a.writable[d] = nil
			if ok && res.ExitCode == 0 && !found[i].ok {
				a.writable[d] = &transport.AccessError{Host: h.Name(), User: h.cfg.User, Dir: found[i].dir, Want: d}
			}
		}
	}
	for _, d := range dirs {
		if e := a.writable[d]; e != nil {
			return e
		}
	}
	return nil
}

// checkSudo runs `sudo -n true`: an *AccessError when sudo refuses, with
// what fixes it (sudoRefusal).
func (h *Host) checkSudo(ctx context.Context) error {
	var stdout, stderr bytes.Buffer
	code, err := h.session(ctx, Quote([]string{"sudo", "-n", "--", "true"}), nil, &stdout, &stderr)
	if err != nil {
		return fmt.Errorf("run sudo -n true on %s: %w", h.Name(), err)
	}
	if code == 0 {
		return nil
	}
	why := sudoRefusal(stderr.Bytes())
	if why == "" {
		why = "the SSH user cannot run commands as root without a password; allow it in sudoers (NOPASSWD), see docs/troubleshooting.md"
	}
	return &transport.AccessError{Host: h.Name(), User: h.cfg.User, Sudo: true,
		Msg: fmt.Sprintf("sudo -n on %s refused the SSH user %q (%q, exit %d): %s", h.Name(), h.cfg.User, firstLine(stderr.Bytes()), code, why)}
}

// writable is one answer of writableScript: whether dir, the directory
// asked about or the nearest one above it that exists, is writable.
type writable struct {
	ok  bool
	dir string
}

// parseWritable reads writableScript's output for n directories; ok is
// false when it is not that (the script did not run).
func parseWritable(out []byte, n int) (ws []writable, ok bool) {
	recs := bytes.Split(out, []byte{0})
	if len(recs) != n+1 || len(recs[n]) != 0 {
		return nil, false
	}
	for _, r := range recs[:n] {
		if len(r) < 3 || (r[0] != 'w' && r[0] != '-') || r[1] != ' ' {
			return nil, false
		}
		ws = append(ws, writable{ok: r[0] == 'w', dir: string(r[2:])})
	}
	return ws, true
}
