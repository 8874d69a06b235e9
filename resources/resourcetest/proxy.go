package resourcetest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Proxy starts a DNS proxy in front of upstream (host:port, the real
// server) and returns its address (127.0.0.1:port, UDP and TCP), to give
// a type in place of the server's: each DNS message that passes through
// it is one operation of f, which can fail it. A failure before the
// message reaches the server is, over TCP, the connection closed
// unanswered and, over UDP, a SERVFAIL answer; a failure after it is
// the server's answer withheld the same way, once the server has acted
// on the message. The error a type sees is a transport error or an
// rcode, and cannot wrap ErrInjected: FailedOnWire says so.
//
// The proxy stops when the test ends.
func (f *Faults) Proxy(t testing.TB, upstream string) string {
	t.Helper()
	var (
		tl  net.Listener
		uc  net.PacketConn
		err error
	)
	for range 20 {
		if tl, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatalf("dns proxy: %v", err)
		}
		if uc, err = net.ListenPacket("udp", tl.Addr().String()); err == nil {
			break
		}
		tl.Close()
	}
	if err != nil {
		t.Fatalf("dns proxy: no port free for both UDP and TCP: %v", err)
	}
	p := &proxy{f: f, upstream: upstream, done: make(chan struct{})}
	p.wg.Add(2)
	go p.serveTCP(tl)
	go p.serveUDP(uc)
	t.Cleanup(func() {
		close(p.done)
		tl.Close()
		uc.Close()
		p.wg.Wait()
	})
	return tl.Addr().String()
}

// FailedOnWire reports whether the operation that failed was a DNS
// message through Proxy.
func (f *Faults) FailedOnWire() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.HasPrefix(f.failed, "dns ")
}

type proxy struct {
	f        *Faults
	upstream string
	done     chan struct{}
	wg       sync.WaitGroup
}

// exchangeTimeout bounds one forwarded exchange.
const exchangeTimeout = 10 * time.Second

func (p *proxy) serveTCP(l net.Listener) {
	defer p.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer c.Close()
			p.tcpConn(c)
		}()
	}
}

// tcpConn relays the messages of one client connection (RFC 1035 §4.2.2:
// each with a two-byte length) over one connection to the server.
func (p *proxy) tcpConn(c net.Conn) {
	var up net.Conn
	defer func() {
		if up != nil {
			up.Close()
		}
	}()
	for {
		c.SetDeadline(time.Now().Add(exchangeTimeout))
		msg, err := readTCPMsg(c)
		if err != nil {
			return
		}
		mode, fail := p.f.op("dns tcp "+describe(msg), opcode(msg) == opUpdate)
		if fail != nil && mode == Before {
			return // closed unanswered
		}
		if up == nil {
			if up, err = net.DialTimeout("tcp", p.upstream, exchangeTimeout); err != nil {
				return
			}
		}
		up.SetDeadline(time.Now().Add(exchangeTimeout))
		if err := writeTCPMsg(up, msg); err != nil {
			return
		}
		answer, err := readTCPMsg(up)
		if err != nil || fail != nil {
			return
		}
		if err := writeTCPMsg(c, answer); err != nil {
			return
		}
	}
}

func readTCPMsg(r io.Reader) ([]byte, error) {
	var n [2]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	msg := make([]byte, binary.BigEndian.Uint16(n[:]))
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, err
	}
	return msg, nil
}

func writeTCPMsg(w io.Writer, msg []byte) error {
	b := make([]byte, 2+len(msg))
	binary.BigEndian.PutUint16(b, uint16(len(msg)))
	copy(b[2:], msg)
	_, err := w.Write(b)
	return err
}

func (p *proxy) serveUDP(c net.PacketConn) {
	defer p.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			select {
			case <-p.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		msg := append([]byte(nil), buf[:n]...)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			c.WriteTo(p.udpExchange(msg), from)
		}()
	}
}

// udpExchange forwards one datagram and returns the answer to give back.
func (p *proxy) udpExchange(msg []byte) []byte {
	if len(msg) < 12 {
		return nil
	}
	mode, fail := p.f.op("dns udp "+describe(msg), opcode(msg) == opUpdate)
	if fail != nil && mode == Before {
		return servfail(msg)
	}
	up, err := net.DialTimeout("udp", p.upstream, exchangeTimeout)
	if err != nil {
		return servfail(msg)
	}
	defer up.Close()
	up.SetDeadline(time.Now().Add(exchangeTimeout))
	if _, err := up.Write(msg); err != nil {
		return servfail(msg)
	}
	buf := make([]byte, 65535)
	n, err := up.Read(buf)
	if err != nil || fail != nil {
		return servfail(msg)
	}
	return buf[:n]
}

// servfail is a bare answer to msg: its id and opcode, QR and RD as
// asked, rcode SERVFAIL (RFC 1035 §4.1.1), no sections.
func servfail(msg []byte) []byte {
	out := make([]byte, 12)
	copy(out, msg[:2])
	flags := binary.BigEndian.Uint16(msg[2:4])
	binary.BigEndian.PutUint16(out[2:4], 0x8000|flags&0x7900|2)
	return out
}

const opUpdate = 5

func opcode(msg []byte) int {
	if len(msg) < 4 {
		return -1
	}
	return int(msg[2]>>3) & 0xf
}

// describe names a message by its opcode and its first question (for an
// UPDATE, the zone: RFC 2136 §2.3), e.g. "query www.example.com. TXT".
func describe(msg []byte) string {
	what := "query"
	if opcode(msg) == opUpdate {
		what = "update"
	}
	if len(msg) < 12 || binary.BigEndian.Uint16(msg[4:6]) == 0 {
		return what
	}
	var name strings.Builder
	i := 12
	for i < len(msg) {
		l := int(msg[i])
		i++
		if l == 0 || l&0xc0 != 0 || i+l > len(msg) {
			break
		}
		name.Write(msg[i : i+l])
		name.WriteByte('.')
		i += l
	}
	if name.Len() == 0 {
		name.WriteByte('.')
	}
	if what == "update" || i+2 > len(msg) {
		return what + " " + name.String()
	}
	qtype := binary.BigEndian.Uint16(msg[i : i+2])
	t, ok := typeNames[qtype]
	if !ok {
		t = fmt.Sprintf("TYPE%d", qtype)
	}
	return what + " " + name.String() + " " + t
}

var typeNames = map[uint16]string{1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV", 52: "TLSA", 255: "ANY", 257: "CAA"}
