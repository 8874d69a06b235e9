package ssh

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/mailplan/mailplan/resources/transport"
)

var _ transport.FSStater = (*Host)(nil)

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

func parseDF(out []byte) (uint64, error) {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 2 {
		return 0, fmt.Errorf("unexpected df output %q", out)
	}
	f := strings.Fields(lines[len(lines)-1])
	if len(f) < 6 {
		return 0, fmt.Errorf("unexpected df output %q", out)
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
