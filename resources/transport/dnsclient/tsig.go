package dnsclient

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"

	"github.com/miekg/dns"
)

// algorithms maps the names a dns_server block may give (as BIND's
// tsig-keygen and named.conf spell them) to the TSIG algorithm names on the
// wire (RFC 8945 §6) and their hashes. miekg/dns no longer signs with
// hmac-md5, which BIND still offers, so the HMACs are computed here.
var algorithms = map[string]struct {
	wire string
	hash func() hash.Hash
}{
	"hmac-md5":    {dns.HmacMD5, md5.New},
	"hmac-sha1":   {dns.HmacSHA1, sha1.New},
	"hmac-sha224": {dns.HmacSHA224, sha256.New224},
	"hmac-sha256": {dns.HmacSHA256, sha256.New},
	"hmac-sha384": {dns.HmacSHA384, sha512.New384},
	"hmac-sha512": {dns.HmacSHA512, sha512.New},
}

// Algorithms lists the TSIG algorithms a dns_server block may name.
func Algorithms() []string {
	return []string{"hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512"}
}

// algorithmName normalises "HMAC-SHA256", "hmac-sha256." and
// "hmac-md5.sig-alg.reg.int." to the keys of algorithms.
func algorithmName(a string) string {
	a = strings.ToLower(strings.TrimSuffix(a, "."))
	return strings.TrimSuffix(a, ".sig-alg.reg.int")
}

// tsigKey is a TsigProvider for one key. Its String never shows the
// secret.
type tsigKey struct {
	name   string // canonical key name
	alg    string // key of algorithms
	secret []byte
}

func (k *tsigKey) String() string { return fmt.Sprintf("key %s (%s)", k.name, k.alg) }

func (k *tsigKey) mac(msg []byte, t *dns.TSIG) ([]byte, error) {
	if dns.CanonicalName(t.Hdr.Name) != k.name {
		return nil, dns.ErrSecret
	}
	a, ok := algorithms[algorithmName(t.Algorithm)]
	if !ok || algorithmName(t.Algorithm) != k.alg {
		return nil, dns.ErrKeyAlg
	}
	h := hmac.New(a.hash, k.secret)
	h.Write(msg)
	return h.Sum(nil), nil
}

// Generate implements dns.TsigProvider.
func (k *tsigKey) Generate(msg []byte, t *dns.TSIG) ([]byte, error) { return k.mac(msg, t) }

// Verify implements dns.TsigProvider: the response's MAC.
func (k *tsigKey) Verify(msg []byte, t *dns.TSIG) error {
	want, err := k.mac(msg, t)
	if err != nil {
		return err
	}
	got, err := hex.DecodeString(t.MAC)
	if err != nil {
		return err
	}
	if !hmac.Equal(want, got) {
		return dns.ErrSig
	}
	return nil
}

func newTSIGKey(name, alg, secret string) (*tsigKey, error) {
	if name == "" {
		return nil, nil
	}
	a := algorithmName(alg)
	if _, ok := algorithms[a]; !ok {
		return nil, fmt.Errorf("TSIG algorithm %q is not supported; use one of %s", alg, strings.Join(Algorithms(), ", "))
	}
	if strings.TrimSpace(secret) == "" {
		return nil, fmt.Errorf("tsig_key_name %s is given without a tsig_secret", name)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(secret))
	if err != nil || len(raw) == 0 {
		// The secret itself never goes into the message.
		return nil, errors.New("tsig_secret is not base64 (give the secret of tsig-keygen's output)")
	}
	return &tsigKey{name: dns.CanonicalName(name), alg: a, secret: raw}, nil
}
