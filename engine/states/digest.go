package states

import "context"

// DigestKeyer is implemented by backends that keep a secret key beside
// the state — never in it, nor in plan files, journals or logs — with
// which mailplan keys the digests it writes (resource.DigestKey): the
// digest of a sensitive output, of a file's earlier content. Whoever can
// read the state alone then cannot guess a short secret back from its
// digest.
//
// The local backend keeps it in a file beside the state file; a database
// backend may keep it elsewhere (a secret store, another table with other
// grants), as long as every run on the same state gets the same key.
type DigestKeyer interface {
	// DigestKey returns the key's secret bytes. When there is no key yet,
	// it makes one (random, 32 bytes) and stores it durably if create is
	// true, else it returns nil and no error. A key that exists but cannot
	// be read is an error, never replaced: digests made with it would no
	// longer match.
	DigestKey(ctx context.Context, create bool) ([]byte, error)
}

// DigestKeySetter is implemented by backends that can be given the key of
// another backend's state, when init -migrate-state copies it: the
// digests in the copied state were made with that key.
type DigestKeySetter interface {
	// SetDigestKey stores key when the backend has none; a different key
	// already there is an error.
	SetDigestKey(ctx context.Context, key []byte) error
}
