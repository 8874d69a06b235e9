package transport

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
)

// ListDir lists the directory dir on h. A missing directory lists nothing
// and is no error: found says whether it exists.
func ListDir(ctx context.Context, h Host, dir string) (entries []FileInfo, found bool, err error) {
	entries, err = h.ReadDir(ctx, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("list %s on %s: %w", dir, h.Name(), err)
	}
	return entries, true, nil
}
