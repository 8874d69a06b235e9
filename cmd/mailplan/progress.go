package main

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/mailplan/mailplan/engine"
)

// progress is a resource's progress on the terminal: a bar with bytes,
// rate and time left on a terminal; elsewhere (CI, a log file) a line
// every few seconds.
type progress struct {
	addr  string
	w     io.Writer
	tty   bool
	mu    sync.Mutex
	total int64
	what  string
	done  atomic.Int64
	bar   *progressbar.ProgressBar
	last  time.Time
	every time.Duration
}

var _ engine.Progress = (*progress)(nil)

func (p *progress) Total(units int64, what string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.what = units, what
	if p.tty && units > 0 {
		opts := []progressbar.Option{
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(p.addr),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(200 * time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.w) }),
		}
		if what == "bytes" {
			opts = append(opts, progressbar.OptionShowBytes(true))
		}
		p.bar = progressbar.NewOptions64(units, opts...)
	}
}

func (p *progress) Add(units int64) {
	n := p.done.Add(units)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Add64(units)
		return
	}
	if time.Since(p.last) < p.every && n < p.total {
		return
	}
	p.last = time.Now()
	if p.total > 0 {
		fmt.Fprintf(p.w, "%s: %s of %s (%d%%)\n", p.addr, amount(n, p.what), amount(p.total, p.what), n*100/p.total)
	} else {
		fmt.Fprintf(p.w, "%s: %s\n", p.addr, amount(n, p.what))
	}
}

func amount(n int64, what string) string {
	if what != "bytes" {
		return fmt.Sprintf("%d %s", n, what)
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
