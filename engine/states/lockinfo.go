package states

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/user"
	"time"
)

// Fill sets the fields of info left empty, as every backend's Lock does:
// ID (random), PID, Host, Who (user@host) and Created (now, to the
// second). The caller sets Operation.
func (info *LockInfo) Fill() {
	if info.ID == "" {
		info.ID = NewID()
	}
	if info.PID == 0 {
		info.PID = os.Getpid()
	}
	if info.Host == "" {
		info.Host, _ = os.Hostname()
	}
	if info.Who == "" {
		name := os.Getenv("USER")
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
		if name == "" {
			name = fmt.Sprint("uid ", os.Getuid())
		}
		info.Who = name + "@" + info.Host
	}
	if info.Created.IsZero() {
		info.Created = time.Now().UTC().Truncate(time.Second)
	}
}

// NewID returns a random version 4 UUID, for a new lineage or a lock ID.
func NewID() string {
	var u [16]byte
	rand.Read(u[:]) // never fails (crypto/rand panics rather than return short)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
