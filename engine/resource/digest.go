package resource

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
)

// DigestPrefix starts every keyed digest: "hmac-sha256:KEYID:HEX", where
// KEYID names the key (DigestKey.ID) and HEX is the HMAC-SHA256 of the
// bytes under that key. A digest without the prefix is a plain hex SHA-256,
// as states written before keyed digests hold.
const DigestPrefix = "hmac-sha256:"

// DigestKey keys the digests mailplan writes into a state, a plan file, a
// journal or a log, so that a digest of a short secret (a sensitive
// output, the earlier content of a file) cannot be guessed back offline by
// whoever reads those files: they need the key, which the state backend
// keeps beside the state, never in it. A nil *DigestKey is valid and
// stands for a random key of this process only (see DigestKeyFrom).
type DigestKey struct {
	key []byte
	id  string
}

// NewDigestKey returns the key with the given secret bytes.
func NewDigestKey(secret []byte) *DigestKey {
	k := &DigestKey{key: append([]byte(nil), secret...)}
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte("mailplan digest key id"))
	k.id = hex.EncodeToString(m.Sum(nil)[:8])
	return k
}

var (
	processKeyOnce sync.Once
	processKey     *DigestKey
)

// ephemeral is the key of digests made without one: random, never stored,
// so that such a digest matches nothing another process made — a change
// shown, never a secret revealed.
func ephemeral() *DigestKey {
	processKeyOnce.Do(func() {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		processKey = NewDigestKey(b)
	})
	return processKey
}

func (k *DigestKey) orEphemeral() *DigestKey {
	if k == nil {
		return ephemeral()
	}
	return k
}

// ID names the key without revealing it: the first 8 bytes, in hex, of
// the HMAC of a fixed text under it. It tells a digest made with another
// key (a lost or replaced key file) from a digest of other bytes.
func (k *DigestKey) ID() string { return k.orEphemeral().id }

// Sum is the keyed digest of b: "hmac-sha256:KEYID:HEX".
func (k *DigestKey) Sum(b []byte) string {
	k = k.orEphemeral()
	m := hmac.New(sha256.New, k.key)
	m.Write(b)
	return DigestPrefix + k.id + ":" + hex.EncodeToString(m.Sum(nil))
}

// DigestMatch is what Match found.
type DigestMatch int

const (
	// DigestDiffers: the digest is of other bytes.
	DigestDiffers DigestMatch = iota
	// DigestEqual: the digest is of these bytes.
	DigestEqual
	// DigestUnknown: the digest was made with another key (or is not a
	// digest at all), so whether the bytes are the same cannot be told.
	// Callers treat it as a change, never as a no-op.
	DigestUnknown
)

// Match compares a stored digest with b. A keyed digest is recomputed
// under k when it names k; a plain hex SHA-256 (a state from before keyed
// digests) is recomputed the old way, and Legacy reports it, so that the
// caller writes the keyed form the next time it writes.
func (k *DigestKey) Match(digest string, b []byte) (m DigestMatch, legacy bool) {
	k = k.orEphemeral()
	if rest, ok := strings.CutPrefix(digest, DigestPrefix); ok {
		id, _, ok := strings.Cut(rest, ":")
		if !ok || id != k.id {
			return DigestUnknown, false
		}
		if hmac.Equal([]byte(digest), []byte(k.Sum(b))) {
			return DigestEqual, false
		}
		return DigestDiffers, false
	}
	if !PlainDigest(digest) {
		return DigestUnknown, false
	}
	sum := sha256.Sum256(b)
	if hmac.Equal([]byte(strings.ToLower(digest)), []byte(hex.EncodeToString(sum[:]))) {
		return DigestEqual, true
	}
	return DigestDiffers, true
}

// DigestKeyID is the key named by a keyed digest, "" for any other string.
func DigestKeyID(digest string) string {
	rest, ok := strings.CutPrefix(digest, DigestPrefix)
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, ":")
	return id
}

// PlainDigest reports whether s is a plain hex SHA-256 (64 hex digits).
func PlainDigest(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

type digestKeyCtx struct{}

// WithDigestKey returns ctx carrying k. The engine gives every call into a
// resource type such a context, with the key of the state it works on; a
// type that writes a digest into its snapshot or journal entries takes the
// key with DigestKeyFrom.
func WithDigestKey(ctx context.Context, k *DigestKey) context.Context {
	return context.WithValue(ctx, digestKeyCtx{}, k)
}

// DigestKeyFrom returns the key ctx carries, or nil — a random key of this
// process (see DigestKey) — when it carries none.
func DigestKeyFrom(ctx context.Context) *DigestKey {
	k, _ := ctx.Value(digestKeyCtx{}).(*DigestKey)
	return k
}
