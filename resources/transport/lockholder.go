package transport

import (
	"context"
	"fmt"
	"strings"
)

// LockArgMarker is the argument a host-side lock's process carries just
// before the description of its run, so that whoever waits in vain can
// name the holder (DescribeLockHolder).
const LockArgMarker = "mailplan-lock"

// DescribeLockHolder names the process holding a flock on path on h, from
// the kernel's table of locks (/proc/locks) and the holder's command
// line: the run's own description when the holder is mailplan over SSH
// (its flock(1) carries it after LockArgMarker), else the process and its
// command. "" when it cannot tell: a lock that leaves no file behind
// cannot keep a note, so the kernel is asked.
func DescribeLockHolder(ctx context.Context, h Host, path string) string {
	out := func(argv ...string) string {
		res, err := h.Run(ctx, argv, RunOptions{})
		if err != nil || res.ExitCode != 0 {
			return ""
		}
		return string(res.Stdout)
	}
	ino := strings.TrimSpace(out("stat", "-L", "-c", "%i", path))
	if ino == "" {
		return ""
	}
	pid := ""
	for _, line := range strings.Split(out("cat", "/proc/locks"), "\n") {
		// "1: FLOCK  ADVISORY  WRITE 4711 08:01:1234 0 EOF"; waiters
		// are listed as "1: -> FLOCK ...".
		f := strings.Fields(line)
		if len(f) < 6 || f[1] != "FLOCK" || f[3] != "WRITE" {
			continue
		}
		if i := strings.LastIndexByte(f[5], ':'); i >= 0 && f[5][i+1:] == ino {
			pid = f[4]
			break
		}
	}
	if pid == "" {
		return ""
	}
	args := strings.Split(strings.TrimRight(out("cat", "/proc/"+pid+"/cmdline"), "\x00"), "\x00")
	for i, a := range args {
		if a == LockArgMarker && i+1 < len(args) {
			return args[i+1]
		}
	}
	cmd := strings.Join(args, " ")
	if len(cmd) > 200 {
		cmd = cmd[:200] + "…"
	}
	if cmd == "" {
		return fmt.Sprintf("process %s", pid)
	}
	return fmt.Sprintf("process %s (%s)", pid, cmd)
}
