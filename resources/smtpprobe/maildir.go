package smtpprobe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/mailplan/mailplan/resources/transport"
)

// ProbeHeader is the header that carries a probe's token.
const ProbeHeader = "X-Mailplan-Probe"

// maxHeader bounds what is read of a candidate message: its header
// only, and at most this much of it.
const maxHeader = 64 << 10

// maildirFinder looks for probes in one Maildir (or one of its
// Maildir++ folders) on a host. It remembers the files it has read, so
// that each look reads only new arrivals.
type maildirFinder struct {
	h    transport.Host
	dir  string // the Maildir, or its .Folder
	seen map[string]bool
}

func newMaildirFinder(h transport.Host, maildir, folder string) *maildirFinder {
	dir := maildir
	if folder != "" {
		dir = path.Join(maildir, "."+folder)
	}
	return &maildirFinder{h: h, dir: dir, seen: map[string]bool{}}
}

// where names the place searched, for messages.
func (f *maildirFinder) where() string {
	return fmt.Sprintf("Maildir %s on %s", f.dir, f.h.Name())
}

// baseName is a Maildir file's identity: its name before ":2,".
func baseName(name string) string {
	b, _, _ := strings.Cut(name, ":")
	return b
}

// find returns the paths (new/ or cur/) of the messages carrying token.
// A Maildir (or new/, cur/) not there yet is empty: delivery creates
// it.
func (f *maildirFinder) find(ctx context.Context, token string) ([]string, error) {
	var found []string
	for _, sub := range []string{"new", "cur"} {
		dir := path.Join(f.dir, sub)
		fis, err := f.h.ReadDir(ctx, dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list %s on %s: %w", dir, f.h.Name(), err)
		}
		for _, fi := range fis {
			if !fi.IsRegular() || strings.HasPrefix(fi.Name, ".") {
				continue
			}
			p := path.Join(dir, fi.Name)
			id := baseName(fi.Name)
			if f.seen[id] {
				continue
			}
			ok, err := f.carries(ctx, p, token)
			if errors.Is(err, fs.ErrNotExist) {
				// Moved to cur/ or renamed for a flag change since
				// the listing: the next look finds it by its new name.
				continue
			}
			if err != nil {
				return nil, err
			}
			if ok {
				found = append(found, p)
				continue
			}
			f.seen[id] = true
		}
	}
	return found, nil
}

// carries reads the header of the message at p and reports whether it
// has ProbeHeader with token.
func (f *maildirFinder) carries(ctx context.Context, p, token string) (bool, error) {
	rc, err := f.h.Open(ctx, p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, err
		}
		return false, fmt.Errorf("open %s on %s: %w", p, f.h.Name(), err)
	}
	defer rc.Close()
	ok, err := headerHas(io.LimitReader(rc, maxHeader), token)
	if err != nil {
		return false, fmt.Errorf("read %s on %s: %w", p, f.h.Name(), err)
	}
	return ok, nil
}

// headerHas reports whether the message header read from r holds
// ProbeHeader with the value token. It stops at the blank line that
// ends the header.
func headerHas(r io.Reader, token string) (bool, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxHeader)
	prefix := strings.ToLower(ProbeHeader) + ":"
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			return false, nil
		}
		if len(line) > len(prefix) && strings.ToLower(line[:len(prefix)]) == prefix &&
			strings.TrimSpace(line[len(prefix):]) == token {
			return true, nil
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, bufio.ErrTooLong) {
		return false, err
	}
	return false, nil
}

// remove removes the probe's files, and looks again for them by their
// base names: Dovecot may move a message from new/ to cur/ (or rename it
// for a flag) between the listing and the removal, and removing a path
// that is gone is no error.
func (f *maildirFinder) remove(ctx context.Context, paths []string) error {
	ids := map[string]bool{}
	for _, p := range paths {
		ids[baseName(path.Base(p))] = true
	}
	for range 5 {
		for _, p := range paths {
			if err := f.h.Remove(ctx, p); err != nil {
				return fmt.Errorf("remove the probe %s on %s: %w", p, f.h.Name(), err)
			}
		}
		paths = paths[:0]
		for _, sub := range []string{"new", "cur"} {
			dir := path.Join(f.dir, sub)
			fis, err := f.h.ReadDir(ctx, dir)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("list %s on %s: %w", dir, f.h.Name(), err)
			}
			for _, fi := range fis {
				if fi.IsRegular() && ids[baseName(fi.Name)] {
					paths = append(paths, path.Join(dir, fi.Name))
				}
			}
		}
		if len(paths) == 0 {
			return nil
		}
	}
	return fmt.Errorf("the probe in %s keeps moving: still at %s", f.where(), strings.Join(paths, ", "))
}
