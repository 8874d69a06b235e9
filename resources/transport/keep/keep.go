package keep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport"
)

// Dir is the name of the directory beside a file that holds its copies.
const Dir = ".mailplan-snapshots"

// Digest is the hex SHA-256 of b: what snapshots recorded before keyed
// digests, and still what the copies record on the host itself. A digest
// that goes into the state is Sum.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Sum is the keyed digest of b, with the state's digest key that ctx
// carries (resource.DigestKeyFrom): the form for a snapshot or journal
// entry, since whoever reads the state alone cannot guess a short secret
// back from it. Save, Load and their In forms take either form.
func Sum(ctx context.Context, b []byte) string {
	return resource.DigestKeyFrom(ctx).Sum(b)
}

// Matches reports whether sum, keyed (Sum) or plain (Digest), is the
// digest of b: what a type compares a recorded digest with, e.g. to tell
// whether a file still holds what its snapshot recorded.
func Matches(ctx context.Context, sum string, b []byte) bool {
	if resource.DigestKeyID(sum) == "" {
		return Digest(b) == sum
	}
	m, _ := resource.DigestKeyFrom(ctx).Match(sum, b)
	return m == resource.DigestEqual
}

// storeName is the name of the copy with digest sum: the digest, with
// the colons of a keyed one made dashes.
func storeName(sum string) string { return strings.ReplaceAll(sum, ":", "-") }

// StorePath is where the copy of content with digest sum, of the file at
// p, is kept.
func StorePath(p, sum string) string {
	return path.Join(path.Dir(p), Dir, storeName(sum))
}

// Save keeps a copy of the file at p, whose content must have digest sum.
// data is that content when the caller has it, else nil to read it from p.
// A copy already there is not written again. It fails when p no longer
// holds that content: the file changed since it was read.
func Save(ctx context.Context, h transport.Host, p, sum string, data []byte) error {
	return SaveIn(ctx, h, path.Join(path.Dir(p), Dir), p, sum, data)
}

// SaveIn is Save with the copies kept in store instead of beside the file:
// for files inside a Maildir, where a hidden directory would show as an
// IMAP folder.
func SaveIn(ctx context.Context, h transport.Host, store, p, sum string, data []byte) error {
	sp := path.Join(store, storeName(sum))
	if data == nil {
		var err error
		if data, err = h.ReadFile(ctx, p); err != nil {
			return fmt.Errorf("keep a copy of %s on %s: %w", p, h.Name(), err)
		}
	}
	if !Matches(ctx, sum, data) {
		return fmt.Errorf("%s on %s changed since it was read; run plan again", p, h.Name())
	}
	if have, err := h.ReadFile(ctx, sp); err == nil && Matches(ctx, sum, have) {
		return nil // kept already (copies are shared by digest)
	}
	if err := MkdirStore(ctx, h, path.Dir(sp)); err != nil {
		return fmt.Errorf("keep a copy of %s on %s: %w", p, h.Name(), err)
	}
	if err := h.WriteFile(ctx, sp, data, transport.WriteOptions{Mode: 0o600, UID: -1, GID: -1}); err != nil {
		return fmt.Errorf("keep a copy of %s on %s: %w", p, h.Name(), err)
	}
	return nil
}

// Load returns the content with digest sum that the file at p held: from
// its kept copy, or from p itself when it still holds it (Apply never got
// to change it).
func Load(ctx context.Context, h transport.Host, p, sum string) ([]byte, error) {
	return LoadIn(ctx, h, path.Join(path.Dir(p), Dir), p, sum)
}

// LoadIn is Load from the copies kept in store (see SaveIn).
func LoadIn(ctx context.Context, h transport.Host, store, p, sum string) ([]byte, error) {
	sp := path.Join(store, storeName(sum))
	if id := resource.DigestKeyID(sum); id != "" && id != resource.DigestKeyFrom(ctx).ID() {
		// Without its key a copy cannot be told from another file put
		// there: never write back bytes that cannot be checked.
		return nil, fmt.Errorf("the earlier content of %s on %s was recorded with digest key %s, and this state's key is %s "+
			"(the key file beside the state was lost or replaced): put that key file back and run again, "+
			"or put the file back by hand from %s", p, h.Name(), id, resource.DigestKeyFrom(ctx).ID(), sp)
	}
	if data, err := h.ReadFile(ctx, sp); err == nil && Matches(ctx, sum, data) {
		return data, nil
	}
	if cur, err := h.ReadFile(ctx, p); err == nil && Matches(ctx, sum, cur) {
		return cur, nil
	}
	return nil, fmt.Errorf("the earlier content of %s on %s (digest %s) is neither in %s nor in the file any more",
		p, h.Name(), sum, sp)
}

// MkdirStore makes dir, a store (a directory named Dir) or a directory
// inside one, ready for copies: the store and every directory below it
// down to dir are real directories of mode 0700, made so or changed to it
// (mailbox_copy made them 0755 before). A symbolic link among them is
// refused with a *transport.LinkError naming it: whoever can write beside
// a file could otherwise point its store anywhere and receive mailplan's
// copies there. A dir with no Dir component is made 0700 itself.
func MkdirStore(ctx context.Context, h transport.Host, dir string) error {
	top := dir
	if i := strings.Index(dir+"/", "/"+Dir+"/"); i >= 0 {
		top = dir[:i+1+len(Dir)]
	}
	chain := []string{dir}
	for p := dir; p != top && p != "/" && p != "."; {
		p = path.Dir(p)
		chain = append([]string{p}, chain...)
	}
	for _, p := range chain {
		fi, err := h.Stat(ctx, p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := h.MkdirAll(ctx, p, 0o700); err != nil {
				return err
			}
			if err := h.Chmod(ctx, p, 0o700); err != nil {
				return err
			}
		case err != nil:
			return err
		case fi.IsSymlink():
			target := ""
			if lr, ok := h.(transport.LinkReader); ok {
				target, _ = lr.Readlink(ctx, p)
			}
			return &transport.LinkError{Op: "write", Path: dir, Link: p, Target: target, Root: path.Dir(top)}
		case !fi.IsDir():
			return fmt.Errorf("%s on %s is not a directory; mailplan keeps earlier file contents there", p, h.Name())
		case fi.Mode.Perm() != 0o700:
			if err := h.Chmod(ctx, p, 0o700); err != nil {
				return err
			}
		}
	}
	return nil
}
