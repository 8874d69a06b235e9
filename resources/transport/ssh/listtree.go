package ssh

import (
	"bytes"
	"context"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mailplan/mailplan/resources/transport"
)

var _ transport.TreeLister = (*Host)(nil)

// treeFormat is what GNU find prints for each entry: type, mode (octal),
// size, modification time (seconds.fraction), uid, gid and the path
// below the root, NUL-terminated, so that any name is one.
const treeFormat = `%y %m %s %T@ %U %G %P\0`

// hasGNUFind says, once per host, whether find on it is GNU find.
func (h *Host) hasGNUFind(ctx context.Context) bool {
	h.findOnce.Do(func() {
		res, err := h.Run(ctx, []string{"find", "--version"}, transport.RunOptions{})
		h.gnuFind = err == nil && res.ExitCode == 0 && bytes.HasPrefix(res.Stdout, []byte("find (GNU findutils)"))
	})
	return h.gnuFind
}

// ListTree implements transport.TreeLister with one find command, which
// follows no link (-P, its default).
func (h *Host) ListTree(ctx context.Context, root string) (map[string][]transport.FileInfo, bool, error) {
	root = path.Clean(root)
	if !path.IsAbs(root) || !h.hasGNUFind(ctx) {
		return nil, false, nil
	}
	res, err := h.Run(ctx, []string{"find", "-P", root, "-mindepth", "1", "-printf", treeFormat}, transport.RunOptions{Env: []string{"LC_ALL=C"}})
	if err != nil {
		return nil, false, err
	}
	if res.ExitCode != 0 {
		h.log.Debug("find exited non-zero", "host", h.cfg.Name, "code", res.ExitCode, "stderr", firstLine(res.Stderr))
		return nil, false, nil
	}
	tree := map[string][]transport.FileInfo{root: nil}
	for _, rec := range bytes.Split(res.Stdout, []byte{0}) {
		if len(rec) == 0 {
			continue
		}
		f := strings.SplitN(string(rec), " ", 7)
		if len(f) != 7 || f[6] == "" {
			return nil, false, nil // not what GNU find prints: list otherwise
		}
		fi, ok := findInfo(f)
		if !ok {
			return nil, false, nil
		}
		p := path.Join(root, f[6])
		dir := path.Dir(p)
		fi.Name = path.Base(p)
		tree[dir] = append(tree[dir], fi)
		if fi.IsDir() {
			if _, seen := tree[p]; !seen {
				tree[p] = nil
			}
		}
	}
	for _, es := range tree {
		sort.Slice(es, func(i, j int) bool { return es[i].Name < es[j].Name })
	}
	return tree, true, nil
}

// findInfo parses the fields of one treeFormat record but the path.
func findInfo(f []string) (transport.FileInfo, bool) {
	var mode fs.FileMode
	switch f[0] {
	case "f":
	case "d":
		mode = fs.ModeDir
	case "l":
		mode = fs.ModeSymlink
	case "p":
		mode = fs.ModeNamedPipe
	case "s":
		mode = fs.ModeSocket
	case "c":
		mode = fs.ModeDevice | fs.ModeCharDevice
	case "b":
		mode = fs.ModeDevice
	default:
		mode = fs.ModeIrregular
	}
	perm, err1 := strconv.ParseUint(f[1], 8, 32)
	size, err2 := strconv.ParseInt(f[2], 10, 64)
	// Whole seconds, as SFTP carries them (ReadDir).
	secs, _, _ := strings.Cut(f[3], ".")
	sec, err3 := strconv.ParseInt(secs, 10, 64)
	uid, err4 := strconv.Atoi(f[4])
	gid, err5 := strconv.Atoi(f[5])
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || err5 != nil {
		return transport.FileInfo{}, false
	}
	return transport.FileInfo{Size: size, Mode: mode | transport.FileModeOf(uint32(perm)),
		ModTime: time.Unix(sec, 0), UID: uid, GID: gid}, true
}
