package ssh

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport"
)

// hostKeyChecker checks the server's key against known_hosts and keeps the
// error it gave, which the handshake error would otherwise bury.
type hostKeyChecker struct {
	cfg      resource.Host
	callback ssh.HostKeyCallback // nil when the file does not exist
	// algorithms are the host key algorithms of the keys known for this
	// host, so that a server with several keys offers one we know rather
	// than one that would look like a changed key.
	algorithms []string

	mu  sync.Mutex
	err error
}

func newHostKeyChecker(cfg resource.Host) (*hostKeyChecker, error) {
	c := &hostKeyChecker{cfg: cfg}
	if _, err := os.Stat(cfg.KnownHosts); errors.Is(err, fs.ErrNotExist) {
		return c, nil // every key is unknown; check says how to add it
	}
	cb, err := knownhosts.New(cfg.KnownHosts)
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	c.callback = cb
	// A key of a type no line has gives back every known key of the host.
	addr := net.JoinHostPort(cfg.Address, strconv.Itoa(cfg.Port))
	var keyErr *knownhosts.KeyError
	if err := cb(addr, &net.TCPAddr{IP: net.ParseIP(cfg.Address), Port: cfg.Port}, probeKey{}); errors.As(err, &keyErr) {
		seen := map[string]bool{}
		for _, k := range keyErr.Want {
			for _, alg := range algorithmsFor(k.Key.Type()) {
				if !seen[alg] {
					seen[alg] = true
					c.algorithms = append(c.algorithms, alg)
				}
			}
		}
		sort.Strings(c.algorithms)
	}
	return c, nil
}

func algorithmsFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

// probeKey is a public key of a type that no known_hosts line has.
type probeKey struct{}

func (probeKey) Type() string                        { return "mailplan-probe" }
func (probeKey) Marshal() []byte                     { return []byte("mailplan-probe") }
func (probeKey) Verify([]byte, *ssh.Signature) error { return errors.New("probe key") }

func (c *hostKeyChecker) check(hostname string, remote net.Addr, key ssh.PublicKey) error {
	err := c.checkKey(hostname, remote, key)
	if err != nil {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
	}
	return err
}

// failure is the error check returned, or nil.
func (c *hostKeyChecker) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *hostKeyChecker) checkKey(hostname string, remote net.Addr, key ssh.PublicKey) error {
	file := c.cfg.KnownHosts
	port := strconv.Itoa(c.cfg.Port)
	offered := fmt.Sprintf("%s %s", key.Type(), ssh.FingerprintSHA256(key))
	add := fmt.Sprintf("ssh-keyscan -p %s %s >> %s", port, shellWord(c.cfg.Address), shellWord(file))
	if c.callback == nil {
		return fmt.Errorf("%w: %s does not exist, so the key of %s (%s) is unknown; check that fingerprint with the server's administrator, then trust the key with: %s",
			transport.ErrHostKey, file, hostname, offered, add)
	}
	err := c.callback(hostname, remote, key)
	var keyErr *knownhosts.KeyError
	var revoked *knownhosts.RevokedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &revoked):
		return fmt.Errorf("%w: the key of %s (%s) is marked @revoked in %s:%d", transport.ErrHostKey, hostname, offered, revoked.Revoked.Filename, revoked.Revoked.Line)
	case errors.As(err, &keyErr) && len(keyErr.Want) == 0:
		return fmt.Errorf("%w: the key of %s (%s) is not in %s; check that fingerprint with the server's administrator, then trust the key with: %s",
			transport.ErrHostKey, hostname, offered, file, add)
	case errors.As(err, &keyErr):
		var known []string
		for _, k := range keyErr.Want {
			known = append(known, fmt.Sprintf("%s %s at %s:%d", k.Key.Type(), ssh.FingerprintSHA256(k.Key), k.Filename, k.Line))
		}
		return fmt.Errorf("%w: the key of %s CHANGED: it offers %s but known_hosts has %s. Someone may be intercepting the connection. If the key was changed on purpose, remove the old one with: ssh-keygen -f %s -R %s and trust the new one with: %s",
			transport.ErrHostKey, hostname, offered, strings.Join(known, "; "), shellWord(file), shellWord(knownhosts.Normalize(hostname)), add)
	}
	return fmt.Errorf("%w: %v", transport.ErrHostKey, err)
}

// shellWord quotes s for a message the user may paste into a shell.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-:@+,=") == "" {
		return s
	}
	return Quote([]string{s})
}
