package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"github.com/mailplan/mailplan/resources/transport"
)

var _ transport.DirStater = (*Host)(nil)

// StatDir implements transport.DirStater with lstat(2).
func (h *Host) StatDir(ctx context.Context, p string) (transport.DirStat, bool, error) {
	if err := ctx.Err(); err != nil {
		return transport.DirStat{}, false, err
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return transport.DirStat{}, false, nil
		}
		return transport.DirStat{}, false, fmt.Errorf("lstat %s: %w", p, err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return transport.DirStat{}, false, nil
	}
	return transport.DirStat{Ino: st.Ino, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano()}, true, nil
}
