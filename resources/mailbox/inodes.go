package mailbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport"
)

// freeInodes asks the destination's filesystem for its free inodes, at
// the destination root or its nearest existing parent; nil when the host
// cannot tell or the filesystem does not count inodes (btrfs).
func freeInodes(ctx context.Context, h transport.Host, p string) (*uint64, error) {
	is, ok := h.(transport.InodeStater)
	if !ok {
		return nil, nil
	}
	for p != "/" {
		_, err := h.Stat(ctx, p)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("free inodes at %s on %s: %w", p, h.Name(), err)
		}
		p = path.Dir(p)
	}
	free, known, err := is.StatInodes(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("free inodes at %s on %s: %w", p, h.Name(), err)
	}
	if !known {
		return nil, nil
	}
	return &free, nil
}

// needInodes is the inodes the copy takes: one per message and metadata
// file (a Maildir message is one file), and at most four per mailbox (its
// directory, cur/, new/, tmp/).
func (s *scan) needInodes() int64 {
	return int64(len(s.copies) + len(s.metas) + 4*len(s.mailboxes))
}

// checkInodes is Plan's refusal of a copy that would run out of inodes
// before it runs out of bytes: many small messages on a filesystem made
// with few inodes (mkfs.ext4 -T largefile, a small tmpfs).
func (sn snapshot) checkInodes() error {
	if sn.FreeInodes == nil || uint64(sn.NeedInodes) <= *sn.FreeInodes {
		return nil
	}
	return resource.Errorf("destination", "Not enough free inodes at the destination",
		"The copy needs about %d inodes (one per message) at %s on %s, and its filesystem has %d free. "+
			"Free some inodes or copy fewer mailboxes (include/exclude); `df -i` shows the counts.",
		sn.NeedInodes, sn.Destination, sn.DestHost, *sn.FreeInodes)
}
