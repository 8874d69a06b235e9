package ssh

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Users and groups are looked up with getent on the host, so that NSS
// sources (LDAP, sssd) count, and cached for the life of the connection.

// getent returns the fields of the db entry for key, or nil when there is
// none.
func (h *Host) getent(ctx context.Context, db, key string) ([]string, error) {
	if key == "" || strings.HasPrefix(key, "-") || strings.ContainsAny(key, ":\n") {
		return nil, nil
	}
	ck := db + " " + key
	h.mu.Lock()
	r, ok := h.lookup[ck]
	h.mu.Unlock()
	if ok {
		return r.fields, nil
	}
	argv := []string{"getent", "--", db, key}
	res, err := h.cmd(ctx, nil, argv...)
	if err != nil {
		return nil, err
	}
	switch res.ExitCode {
	case 0:
		line, _, _ := strings.Cut(string(res.Stdout), "\n")
		r.fields = strings.Split(line, ":")
		if len(r.fields) < 3 {
			return nil, fmt.Errorf("getent %s %s on %s: unexpected output %q", db, key, h.Name(), line)
		}
	case 2: // not found
	default:
		return nil, fmt.Errorf("on %s: %w", h.Name(), res.Err(argv))
	}
	h.mu.Lock()
	h.lookup[ck] = r
	h.mu.Unlock()
	return r.fields, nil
}

func (h *Host) lookupID(ctx context.Context, db, what, name string) (int, error) {
	if id, err := strconv.Atoi(name); err == nil && id >= 0 {
		return id, nil
	}
	f, err := h.getent(ctx, db, name)
	if err != nil {
		return -1, fmt.Errorf("look up %s %q: %w", what, name, err)
	}
	if f == nil {
		return -1, fmt.Errorf("look up %s %q: no such %s on %s", what, name, what, h.Name())
	}
	id, err := strconv.Atoi(f[2])
	if err != nil {
		return -1, fmt.Errorf("look up %s %q on %s: bad id %q", what, name, h.Name(), f[2])
	}
	return id, nil
}

func (h *Host) idName(ctx context.Context, db string, id int) (string, error) {
	f, err := h.getent(ctx, db, strconv.Itoa(id))
	if err != nil {
		return "", fmt.Errorf("look up id %d: %w", id, err)
	}
	if f == nil {
		return "", nil
	}
	return f[0], nil
}

// LookupUser implements transport.Host.
func (h *Host) LookupUser(ctx context.Context, name string) (int, error) {
	return h.lookupID(ctx, "passwd", "user", name)
}

// LookupGroup implements transport.Host.
func (h *Host) LookupGroup(ctx context.Context, name string) (int, error) {
	return h.lookupID(ctx, "group", "group", name)
}

// UserName implements transport.Host.
func (h *Host) UserName(ctx context.Context, uid int) (string, error) {
	return h.idName(ctx, "passwd", uid)
}

// GroupName implements transport.Host.
func (h *Host) GroupName(ctx context.Context, gid int) (string, error) {
	return h.idName(ctx, "group", gid)
}
