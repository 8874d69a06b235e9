package pool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/go-hclog"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport"
	"github.com/mailplan/mailplan/resources/transport/local"
	"github.com/mailplan/mailplan/resources/transport/ssh"
)

// Pool holds the connections of a run. It is safe for concurrent use.
type Pool struct {
	log hclog.Logger

	mu     chan struct{} // a mutex that Get can give up on
	conns  map[resource.Host]*conn
	closed bool
}

// conn is one host's connection, or the dial in progress.
type conn struct {
	ready chan struct{} // closed when the dial is done
	host  transport.Host
	err   error
}

// New returns an empty pool. A nil logger discards.
func New(logger hclog.Logger) *Pool {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Pool{log: logger, mu: make(chan struct{}, 1), conns: map[resource.Host]*conn{}}
}

func (p *Pool) lock()   { p.mu <- struct{}{} }
func (p *Pool) unlock() { <-p.mu }

// Get returns the connection to h, dialling it on first use: transport
// "local" is this machine, "ssh" (or unset) an SSH connection. Host blocks
// that differ in any field get separate connections. A failed dial is not
// remembered: the next Get tries again.
func (p *Pool) Get(ctx context.Context, h resource.Host) (transport.Host, error) {
	if h.Transport != "local" && h.Transport != "ssh" && h.Transport != "" {
		return nil, fmt.Errorf("%s: unknown transport %q; use \"ssh\" or \"local\"", h, h.Transport)
	}
	p.lock()
	if p.closed {
		p.unlock()
		return nil, errors.New("connection pool is closed")
	}
	c, ok := p.conns[h]
	if !ok {
		c = &conn{ready: make(chan struct{})}
		p.conns[h] = c
		// Others may wait for this dial, so it is not cancelled with this
		// caller's context; it is bounded by the transport's own timeouts,
		// and a caller that gives up stops waiting for it.
		go p.dial(context.WithoutCancel(ctx), h, c)
	}
	p.unlock()

	select {
	case <-c.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if c.err != nil {
		return nil, c.err
	}
	return c.host, nil
}

func (p *Pool) dial(ctx context.Context, h resource.Host, c *conn) {
	log := p.log.With("host", h.Name)
	if h.Transport == "local" {
		c.host = local.New(h.Name, log)
	} else {
		c.host, c.err = ssh.Dial(ctx, h, log)
	}
	p.lock()
	if c.err != nil {
		delete(p.conns, h)
	} else if p.closed {
		// Close ran during the dial and did not see this connection.
		closeHost(c.host)
		c.host, c.err = nil, errors.New("connection pool is closed")
	}
	p.unlock()
	close(c.ready)
}

func closeHost(h transport.Host) error {
	if c, ok := h.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// Close closes every connection. Gets after Close fail.
func (p *Pool) Close() error {
	p.lock()
	p.closed = true
	conns := p.conns
	p.conns = map[resource.Host]*conn{}
	p.unlock()
	var errs []error
	for h, c := range conns {
		select {
		case <-c.ready:
		default:
			continue // dial in progress; it closes its own result
		}
		if c.err == nil {
			if err := closeHost(c.host); err != nil {
				errs = append(errs, fmt.Errorf("close %s: %w", h, err))
			}
		}
	}
	return errors.Join(errs...)
}

// RunHook runs argv on h and returns what it printed, stdout then stderr.
// A non-zero exit is an error (a *transport.ExitError).
func (p *Pool) RunHook(ctx context.Context, h resource.Host, argv []string) ([]byte, error) {
	host, err := p.Get(ctx, h)
	if err != nil {
		return nil, err
	}
	res, err := host.Run(ctx, argv, transport.RunOptions{})
	output := append(bytes.Clone(res.Stdout), res.Stderr...)
	if err != nil {
		return output, fmt.Errorf("hook on %s: %w", host.Name(), err)
	}
	if err := res.Err(argv); err != nil {
		return output, fmt.Errorf("hook on %s: %w", host.Name(), err)
	}
	return output, nil
}
