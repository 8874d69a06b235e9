package postfix

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/transport"
)

// hungHost is a host whose commands never finish on their own, as
// postfix status does when postlogd is wedged.
type hungHost struct{ transport.Host }

func (hungHost) Name() string { return "old" }

func (hungHost) Run(ctx context.Context, argv []string, opts transport.RunOptions) (transport.Result, error) {
	<-ctx.Done()
	return transport.Result{}, ctx.Err()
}

// A Postfix command that hangs fails after commandTimeout, saying so; one
// stopped by the caller (an interrupt) fails as before.
func TestCommandTimeout(t *testing.T) {
	was := commandTimeout
	commandTimeout = 50 * time.Millisecond
	t.Cleanup(func() { commandTimeout = was })
	in := newInstance(hungHost{}, resource.Host{Name: "old", Transport: "local"}, "/etc/postfix")

	start := time.Now()
	_, err := in.runOK(context.Background(), "postfix", "-c", "/etc/postfix", "status")
	if !errors.Is(err, errCommandTimeout) || !strings.Contains(err.Error(), "postfix -c /etc/postfix status") {
		t.Errorf("hung command: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("hung command returned after %v", took)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := in.runOK(ctx, "postfix", "status"); errors.Is(err, errCommandTimeout) || !errors.Is(err, context.Canceled) {
		t.Errorf("interrupted command: %v", err)
	}
}
