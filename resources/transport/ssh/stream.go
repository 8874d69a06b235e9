package ssh

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mailplan/mailplan/resources/transport"
)

var _ transport.Streamer = (*Host)(nil)

// tarArgv reads NUL-separated absolute paths on stdin and writes them as
// one tar stream: GNU tar, each path as given (-P), no directory
// expanded, a symbolic link archived as a link (never followed), a hard
// link as the file's content (--hard-dereference; Dovecot links a message
// copied between folders), every name taken as a name, never an option.
var tarArgv = []string{"tar", "-c", "-f", "-", "-P", "--no-recursion", "--hard-dereference", "--null", "--verbatim-files-from", "-T", "-"}

// hasGNUTar says, once per host, whether tar on it is GNU tar, which
// StreamFiles needs.
func (h *Host) hasGNUTar(ctx context.Context) bool {
	h.tarOnce.Do(func() {
		res, err := h.Run(ctx, []string{"tar", "--version"}, transport.RunOptions{})
		h.gnuTar = err == nil && res.ExitCode == 0 && bytes.HasPrefix(res.Stdout, []byte("tar (GNU tar)"))
		h.log.Debug("tar", "host", h.cfg.Name, "gnu", h.gnuTar)
	})
	return h.gnuTar
}

// StreamFiles implements transport.Streamer with one tar command.
func (h *Host) StreamFiles(ctx context.Context, paths []string, fn func(i int, size int64, r io.Reader) error) (bool, error) {
	if len(paths) == 0 {
		return true, nil
	}
	if !h.hasGNUTar(ctx) {
		return false, nil
	}
	var list bytes.Buffer
	for _, p := range paths {
		if strings.IndexByte(p, 0) >= 0 || !strings.HasPrefix(p, "/") {
			return true, fmt.Errorf("stream %q from %s: not an absolute path", p, h.Name())
		}
		list.WriteString(p)
		list.WriteByte(0)
	}
	cmd, err := h.commandLine(tarArgv, nil)
	if err != nil {
		return true, err
	}
	s, release, err := h.newSession(ctx)
	if err != nil {
		return true, fmt.Errorf("run tar on %s: %w", h.Name(), err)
	}
	defer release()
	defer s.Close()
	s.Stdin = &list
	var stderr bytes.Buffer
	l := &limited{w: &stderr, n: 4096}
	s.Stderr = l
	out, err := s.StdoutPipe()
	if err != nil {
		return true, fmt.Errorf("run tar on %s: %w", h.Name(), err)
	}
	if err := s.Start(cmd); err != nil {
		return true, fmt.Errorf("run tar on %s: %w", h.Name(), err)
	}
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	tr := tar.NewReader(out)
	next := 0
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return true, cerr
			}
			return true, fmt.Errorf("read tar stream from %s: %w", h.Name(), err)
		}
		// Members come in the order of the list; the paths tar could
		// not read are not among them.
		i, name := next, hdr.Name
		if hdr.Typeflag == tar.TypeDir {
			name = strings.TrimSuffix(name, "/")
		}
		for i < len(paths) && paths[i] != name {
			i++
		}
		if i == len(paths) {
			return true, fmt.Errorf("read tar stream from %s: unexpected member %q", h.Name(), hdr.Name)
		}
		next = i + 1
		if hdr.Typeflag != tar.TypeReg {
			continue // a link, or no longer a file: left to the caller
		}
		if err := fn(i, hdr.Size, tr); err != nil {
			return true, err
		}
	}
	// Drain what is left, so that tar ends.
	_, _ = io.Copy(io.Discard, out)
	if err := s.Wait(); err != nil {
		// tar exits non-zero when it could not read a path ("Cannot
		// stat"); those are the caller's to read on its own.
		code, werr := exitCode(err)
		if werr != nil {
			return true, fmt.Errorf("run tar on %s: %w", h.Name(), werr)
		}
		if l.shrank {
			// GNU tar pads a file that shrank while it read it with
			// zeros, to the size its header already gave: that content
			// is not the file's.
			return true, fmt.Errorf("run tar on %s: a file shrank while it was read: %s", h.Name(), firstLine(stderr.Bytes()))
		}
		h.log.Debug("tar exited non-zero", "host", h.cfg.Name, "code", code, "stderr", firstLine(stderr.Bytes()))
	}
	return true, ctx.Err()
}

// limited keeps the first n bytes written to it, and notes whether tar
// said a file shrank.
type limited struct {
	w      io.Writer
	n      int
	shrank bool
}

func (l *limited) Write(b []byte) (int, error) {
	if bytes.Contains(b, []byte("shrank by")) {
		l.shrank = true
	}
	if l.n > 0 {
		k := min(l.n, len(b))
		_, _ = l.w.Write(b[:k])
		l.n -= k
	}
	return len(b), nil
}
