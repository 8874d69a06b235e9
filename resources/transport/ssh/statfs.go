package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/pkg/sftp"

	"github.com/mailplan/mailplan/resources/transport"
)

var _ transport.FSStats = (*Host)(nil)

// StatFS implements transport.FSStater: over SFTP with the
// statvfs@openssh.com extension, with sudo by `df -P -k` (POSIX output:
// the fourth field of the second line is the available 1024-byte blocks).
func (h *Host) StatFS(ctx context.Context, p string) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if h.sftp != nil {
		st, err := h.sftp.StatVFS(p)
		if err != nil {
			return 0, h.fileErr("statvfs", p, err)
		}
		return st.Bavail * st.Frsize, nil
	}
	res, err := h.run(ctx, "statvfs", p, nil, "df", "-P", "-k", "--", p)
	if err != nil {
		return 0, err
	}
	return parseDF(res.Stdout)
}

// StatInodes implements transport.InodeStater: over SFTP f_favail of
// statvfs@openssh.com, with sudo by `df -P -i` (the fourth field of the
// second line is the free inodes, the second the total; a total of 0 is a
// filesystem that does not count them).
func (h *Host) StatInodes(ctx context.Context, p string) (uint64, bool, error) {
	if err := ctx.Err(); err != nil {
		return 0, false, err
	}
	if h.sftp != nil {
		st, err := h.sftp.StatVFS(p)
		if err != nil {
			return 0, false, h.fileErr("statvfs", p, err)
		}
		return st.Favail, st.Files > 0, nil
	}
	res, err := h.run(ctx, "statvfs", p, nil, "df", "-P", "-i", "--", p)
	if err != nil {
		return 0, false, err
	}
	return parseDFInodes(res.Stdout)
}

func parseDFInodes(out []byte) (free uint64, known bool, err error) {
	f, err := dfFields(out)
	if err != nil {
		return 0, false, err
	}
	total, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("unexpected df output %q: %w", out, err)
	}
	if free, err = strconv.ParseUint(f[3], 10, 64); err != nil {
		return 0, false, fmt.Errorf("unexpected df output %q: %w", out, err)
	}
	return free, total > 0, nil
}

// dfFields is the last line of POSIX df output, split: filesystem, total,
// used, available, capacity, mount point.
func dfFields(out []byte) ([]string, error) {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 2 {
		return nil, fmt.Errorf("unexpected df output %q", out)
	}
	f := strings.Fields(lines[len(lines)-1])
	if len(f) < 6 {
		return nil, fmt.Errorf("unexpected df output %q", out)
	}
	return f, nil
}

// full turns an SFTP failure of a write to p into a *transport.NoSpaceError
// when the filesystem is full: SFTP (draft-ietf-secsh-filexfer-02) has no
// status for ENOSPC or EDQUOT, so OpenSSH's sftp-server answers
// SSH_FX_FAILURE, and a statvfs right after it tells why. Any other error
// is returned as it is.
func (h *Host) full(ctx context.Context, op, p string, size int64, newFile bool, err error) error {
	var se *sftp.StatusError
	if h.sftp == nil || !errors.As(err, &se) || se.FxCode() != sftp.ErrSSHFxFailure {
		return err
	}
	return transport.FullAfter(ctx, h, h.Name(), op, path.Dir(p), size, newFile, err)
}

// fullWriter is a file created over SFTP whose Write and Close report a
// full filesystem as such (see full).
type fullWriter struct {
	*sftp.File
	ctx context.Context
	h   *Host
	p   string
}

func (w *fullWriter) Write(b []byte) (int, error) {
	n, err := w.File.Write(b)
	if err != nil {
		err = w.h.full(w.ctx, "write", w.p, int64(len(b)), false, w.h.fileErr("write", w.p, err))
	}
	return n, err
}

func (w *fullWriter) ReadFrom(r io.Reader) (int64, error) {
	n, err := w.File.ReadFrom(r)
	if err != nil {
		err = w.h.full(w.ctx, "write", w.p, 0, false, w.h.fileErr("write", w.p, err))
	}
	return n, err
}

func (w *fullWriter) Close() error {
	if err := w.File.Close(); err != nil {
		return w.h.full(w.ctx, "close", w.p, 0, false, w.h.fileErr("close", w.p, err))
	}
	return nil
}

func parseDF(out []byte) (uint64, error) {
	f, err := dfFields(out)
	if err != nil {
		return 0, err
	}
	kb, err := strconv.ParseUint(f[3], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("unexpected df output %q: %w", out, err)
	}
	return kb * 1024, nil
}

var _ transport.FSSyncer = (*Host)(nil)

// SyncFS implements transport.FSSyncer by running `sync -f` (syncfs(2),
// GNU coreutils ≥ 8.24), under sudo when configured.
func (h *Host) SyncFS(ctx context.Context, p string) error {
	_, err := h.run(ctx, "syncfs", p, nil, "sync", "-f", "--", p)
	return err
}
