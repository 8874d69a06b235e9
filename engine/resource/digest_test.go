package resource

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func TestDigestMatch(t *testing.T) {
	k := NewDigestKey([]byte("0123456789abcdef0123456789abcdef"))
	other := NewDigestKey([]byte("another key, another key, anothe"))
	plain := sha256.Sum256([]byte("hunter2"))
	for _, tc := range []struct {
		name   string
		digest string
		b      string
		want   DigestMatch
		legacy bool
	}{
		{"keyed, same bytes", k.Sum([]byte("hunter2")), "hunter2", DigestEqual, false},
		{"keyed, other bytes", k.Sum([]byte("hunter2")), "hunter3", DigestDiffers, false},
		{"other key", other.Sum([]byte("hunter2")), "hunter2", DigestUnknown, false},
		{"plain, same bytes", hex.EncodeToString(plain[:]), "hunter2", DigestEqual, true},
		{"plain upper case", strings.ToUpper(hex.EncodeToString(plain[:])), "hunter2", DigestEqual, true},
		{"plain, other bytes", hex.EncodeToString(plain[:]), "hunter3", DigestDiffers, true},
		{"not a digest", "xyz", "hunter2", DigestUnknown, false},
		{"empty", "", "", DigestUnknown, false},
		{"prefix without id", DigestPrefix + "abc", "hunter2", DigestUnknown, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, legacy := k.Match(tc.digest, []byte(tc.b))
			if got != tc.want || legacy != tc.legacy {
				t.Errorf("Match(%q, %q) = %v, %v; want %v, %v", tc.digest, tc.b, got, legacy, tc.want, tc.legacy)
			}
		})
	}
}

func TestDigestKeyForm(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	k := NewDigestKey(secret)
	d := k.Sum([]byte("x"))
	if !strings.HasPrefix(d, DigestPrefix+k.ID()+":") || len(d) != len(DigestPrefix)+16+1+64 {
		t.Errorf("Sum = %q, want %sKEYID:HEX", d, DigestPrefix)
	}
	if DigestKeyID(d) != k.ID() || DigestKeyID("abc") != "" {
		t.Errorf("DigestKeyID(%q) = %q, want %q", d, DigestKeyID(d), k.ID())
	}
	if strings.Contains(d, hex.EncodeToString(secret)) || strings.Contains(k.ID(), hex.EncodeToString(secret)[:16]) {
		t.Error("the digest or id shows the key")
	}
	if NewDigestKey(secret).Sum([]byte("x")) != d {
		t.Error("the same key gives another digest")
	}
}

// Without a key in the context, digests are made with a key of this
// process: they match within it and nothing made elsewhere.
func TestDigestKeyFromContext(t *testing.T) {
	ctx := context.Background()
	if DigestKeyFrom(ctx) != nil {
		t.Fatal("a key from an empty context")
	}
	var none *DigestKey
	d := DigestKeyFrom(ctx).Sum([]byte("x"))
	if m, _ := none.Match(d, []byte("x")); m != DigestEqual {
		t.Errorf("the process key does not match its own digest: %v", m)
	}
	k := NewDigestKey([]byte("0123456789abcdef0123456789abcdef"))
	if DigestKeyFrom(WithDigestKey(ctx, k)) != k {
		t.Error("the context does not carry the key")
	}
	if m, _ := k.Match(d, []byte("x")); m != DigestUnknown {
		t.Errorf("a digest of the process key matched a stored key: %v", m)
	}
}
