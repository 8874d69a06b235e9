package local

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mailplan/mailplan/engine/states"
)

var _ states.DigestKeyer = (*Backend)(nil)

// DigestKeyFile is the name of the digest key's file, in the state file's
// directory (.mailplan/digest.key by default).
const DigestKeyFile = "digest.key"

// digestKeySize is the key's length in bytes; the file holds it in hex.
const digestKeySize = 32

// DigestKeyPath is the file that holds the key of the state's digests:
// in the state file's directory, or the one ShareDigestKey named.
func (b *Backend) DigestKeyPath() string {
	if b.keyDir != "" {
		return filepath.Join(b.keyDir, DigestKeyFile)
	}
	return filepath.Join(filepath.Dir(b.path), DigestKeyFile)
}

// ShareDigestKey keeps the digest key in dir instead of beside the state
// file: the workspaces of a plan directory share the default one's key,
// as they share one key in a database backend.
func (b *Backend) ShareDigestKey(dir string) { b.keyDir = dir }

// SetDigestKey implements states.DigestKeySetter: it stores key when
// there is none yet; a different key already there is an error.
func (b *Backend) SetDigestKey(ctx context.Context, key []byte) error {
	have, err := b.DigestKey(ctx, false)
	if err != nil {
		return err
	}
	if have != nil {
		if !bytes.Equal(have, key) {
			return fmt.Errorf("%s holds another digest key; digests made with one do not match the other", b.DigestKeyPath())
		}
		return nil
	}
	got, err := b.storeKey(key)
	if err == nil && !bytes.Equal(got, key) {
		err = fmt.Errorf("%s holds another digest key, made meanwhile", b.DigestKeyPath())
	}
	return err
}

// DigestKey implements states.DigestKeyer: the key is 32 random bytes, in
// hex on one line of DigestKeyPath, mode 0600. A new key is written to a
// temporary file, fsynced and linked into place, so that two runs making
// the first key at once end with one key both use.
func (b *Backend) DigestKey(ctx context.Context, create bool) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path := b.DigestKeyPath()
	key, err := readDigestKey(path)
	switch {
	case err == nil:
		return key, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	case !create:
		return nil, nil
	}
	secret := make([]byte, digestKeySize)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("make digest key: %w", err)
	}
	return b.storeKey(secret)
}

// storeKey stores secret as the key unless another run stored one first,
// and returns the key stored.
func (b *Backend) storeKey(secret []byte) ([]byte, error) {
	path := b.DigestKeyPath()
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("make digest key: %w", err)
	}
	tmp, err := writeTemp(dir, DigestKeyFile, []byte(hex.EncodeToString(secret)+"\n"))
	if err != nil {
		return nil, fmt.Errorf("make digest key: %w", err)
	}
	defer os.Remove(tmp)
	// Link, not rename: it fails when another run made the key first,
	// and that key is the one to use.
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readDigestKey(path)
		}
		return nil, fmt.Errorf("make digest key: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("make digest key: %w", err)
	}
	b.logger.Info("made a new digest key", "path", path)
	return secret, nil
}

func readDigestKey(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read digest key: %w", err)
	}
	key, err := hex.DecodeString(string(bytes.TrimSpace(data)))
	if err != nil || len(key) != digestKeySize {
		return nil, fmt.Errorf("digest key %s is not %d bytes in hex; restore it from a backup, or remove it to make a new one (the digests the state holds then no longer match: sensitive outputs show as changed, and restoring a file's earlier content needs the old key)", path, digestKeySize)
	}
	return key, nil
}
