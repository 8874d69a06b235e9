package ssh

import (
	"github.com/pkg/sftp"
)

// extraReaders is how many SFTP channels, beyond the first, a host opens
// on its connection for reads (Open, ReadDir) once it is asked for one: an
// SFTP server answers the requests of one channel one after the other on
// one process (OpenSSH's sftp-server, internal-sftp), so a copy of many
// small files is bound by it, not by the network. Each channel takes one
// of the maxSessions slots, while it is free: commands always keep the
// others.
const extraReaders = 2

// reader returns an SFTP client for a read, in turn over the first
// channel and the extra ones, opened on first use (as many as sessions
// allow then).
func (h *Host) reader() *sftp.Client {
	h.readersOnce.Do(func() {
		for range extraReaders {
			select {
			case h.sessions <- struct{}{}:
			default:
				return // commands are running: none to spare
			}
			sc, err := sftp.NewClient(h.conn)
			if err != nil {
				<-h.sessions
				h.log.Debug("cannot open another sftp channel", "host", h.cfg.Name, "error", err)
				return
			}
			h.readers = append(h.readers, sc)
		}
	})
	n := uint32(len(h.readers)) + 1
	i := h.nextReader.Add(1) % n
	if i == 0 {
		return h.sftp
	}
	return h.readers[i-1]
}

// closeReaders closes the extra channels and gives their slots back.
func (h *Host) closeReaders() {
	h.readersOnce.Do(func() {})
	for _, sc := range h.readers {
		sc.Close()
		<-h.sessions
	}
	h.readers = nil
}
