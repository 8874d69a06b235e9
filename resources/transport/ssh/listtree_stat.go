package ssh

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mailplan/mailplan/resources/transport"
)

var _ transport.StatTreeLister = (*Host)(nil)

// statTreeScript prints the host's clock, then lists the tree as
// ListTree's find does, directories with their inode and change time
// (treeFormat's fields, then %i %C@, before the path), and does not
// descend into a directory named in $3… whose change time is before $2
// ("@SECONDS.NANOS", GNU find's -newerct), printed with type P.
const statTreeScript = `root=$1 before=$2; shift 2
names=
for n in "$@"; do names="$names -o -name $n"; done
date +%s.%N || exit 1
if [ -n "$names" ]; then
  # shellcheck disable=SC2086
  exec find -P "$root" -mindepth 1 \( -type d \( -false $names \) ! -newerct "$before" -printf 'P %m %s %T@ %U %G %i %C@ %P\0' -prune \) -o \( -type d -printf 'd %m %s %T@ %U %G %i %C@ %P\0' \) -o -printf '%y %m %s %T@ %U %G %P\0'
fi
exec find -P "$root" -mindepth 1 \( -type d -printf 'd %m %s %T@ %U %G %i %C@ %P\0' \) -o -printf '%y %m %s %T@ %U %G %P\0'`

// ListTreeStat implements transport.StatTreeLister with one shell
// command: date(1), then GNU find.
func (h *Host) ListTreeStat(ctx context.Context, root string, skip []string, unchangedSince time.Time) (map[string][]transport.FileInfo, map[string]transport.DirStat, time.Time, bool, error) {
	root = path.Clean(root)
	if !path.IsAbs(root) || !h.hasGNUFind(ctx) {
		return nil, nil, time.Time{}, false, nil
	}
	for _, n := range skip {
		if n == "" || strings.ContainsAny(n, "/*?[]\\ \t\n'\"$`") {
			return nil, nil, time.Time{}, false, fmt.Errorf("list %s: bad directory name %q to skip", root, n)
		}
	}
	before := fmt.Sprintf("@%d.%09d", unchangedSince.Unix(), unchangedSince.Nanosecond())
	if unchangedSince.IsZero() || unchangedSince.Unix() <= 0 {
		before = "@0"
	}
	argv := append([]string{"sh", "-c", statTreeScript, "sh", root, before}, skip...)
	res, err := h.Run(ctx, argv, transport.RunOptions{Env: []string{"LC_ALL=C"}})
	if err != nil {
		return nil, nil, time.Time{}, false, err
	}
	if res.ExitCode != 0 {
		h.log.Debug("find exited non-zero", "host", h.cfg.Name, "code", res.ExitCode, "stderr", firstLine(res.Stderr))
		return nil, nil, time.Time{}, false, nil
	}
	clock, out, found := bytes.Cut(res.Stdout, []byte{'\n'})
	start, ok := parseTime(string(clock))
	if !found || !ok {
		return nil, nil, time.Time{}, false, nil
	}
	tree := map[string][]transport.FileInfo{root: nil}
	dirs := map[string]transport.DirStat{}
	for _, rec := range bytes.Split(out, []byte{0}) {
		if len(rec) == 0 {
			continue
		}
		n := 7
		if rec[0] == 'd' || rec[0] == 'P' {
			n = 9
		}
		f := strings.SplitN(string(rec), " ", n)
		if len(f) != n || f[n-1] == "" {
			return nil, nil, time.Time{}, false, nil
		}
		kind := f[0]
		if kind == "P" {
			f[0] = "d"
		}
		p := path.Join(root, f[n-1])
		if n == 9 {
			ino, err := strconv.ParseUint(f[6], 10, 64)
			ctime, ok := parseTime(f[7])
			mtime, ok2 := parseTime(f[3])
			if err != nil || !ok || !ok2 {
				return nil, nil, time.Time{}, false, nil
			}
			dirs[p] = transport.DirStat{Ino: ino, Mtime: mtime.UnixNano(), Ctime: ctime.UnixNano()}
			f = append(f[:6], f[8])
		}
		fi, ok := findInfo(f)
		if !ok {
			return nil, nil, time.Time{}, false, nil
		}
		dir := path.Dir(p)
		fi.Name = path.Base(p)
		tree[dir] = append(tree[dir], fi)
		if fi.IsDir() && kind != "P" {
			if _, seen := tree[p]; !seen {
				tree[p] = nil
			}
		}
	}
	for _, es := range tree {
		sort.Slice(es, func(i, j int) bool { return es[i].Name < es[j].Name })
	}
	return tree, dirs, start, true, nil
}

// parseTime parses "SECONDS.FRACTION" (date +%s.%N, find's %T@ and %C@)
// exactly, to the nanosecond.
func parseTime(s string) (time.Time, bool) {
	secs, frac, _ := strings.Cut(strings.TrimSpace(s), ".")
	sec, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	frac = (frac + "000000000")[:9]
	ns, err := strconv.ParseInt(frac, 10, 64)
	if err != nil || ns < 0 {
		return time.Time{}, false
	}
	return time.Unix(sec, ns), true
}
