package local

import (
	"context"
	"fmt"
	"syscall"

	"github.com/mailplan/mailplan/resources/transport"
)

var _ transport.FSStats = (*Host)(nil)

// StatInodes implements transport.InodeStater with statfs(2): f_ffree,
// which on Linux is also statvfs(3)'s f_favail. A filesystem reporting no
// inodes at all (f_files 0: btrfs) does not count them.
func (h *Host) StatInodes(ctx context.Context, path string) (uint64, bool, error) {
	if err := ctx.Err(); err != nil {
		return 0, false, err
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, false, fmt.Errorf("statfs %s: %w", path, err)
	}
	return st.Ffree, st.Files > 0, nil
}
