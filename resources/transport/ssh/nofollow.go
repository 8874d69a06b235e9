package ssh

import (
	"context"
	"strings"

	"github.com/mailplan/mailplan/resources/transport"
)

// SSH hosts have no openat(2): transport.Confine checks each component of
// a path with lstat right before an operation (see transport/confine.go).
// These give that check the targets of links and the uid writes run as.

var (
	_ transport.LinkReader = (*Host)(nil)
	_ transport.Identity   = (*Host)(nil)
)

// Readlink implements transport.LinkReader.
func (h *Host) Readlink(ctx context.Context, p string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if h.sftp == nil {
		res, err := h.run(ctx, "readlink", p, nil, "readlink", "--", p)
		if err != nil {
			return "", err
		}
		return strings.TrimSuffix(string(res.Stdout), "\n"), nil
	}
	t, err := h.sftp.ReadLink(p)
	if err != nil {
		return "", h.fileErr("readlink", p, err)
	}
	return t, nil
}

// WriterUID implements transport.Identity: 0 under sudo, else the login
// user's uid.
func (h *Host) WriterUID(ctx context.Context) (int, error) {
	if h.sftp == nil {
		return 0, nil
	}
	return h.LookupUser(ctx, h.cfg.User)
}
