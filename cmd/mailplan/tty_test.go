package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDiagWidth checks that diagnostics wrap only on a terminal: at its
// width less one, or at 78 when the size is unknown (0x0); never in a
// buffer or a file.
func TestDiagWidth(t *testing.T) {
	file, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	// The master side of a pseudo-terminal is a terminal to
	// term.IsTerminal, and its window size can be set.
	pty := func(t *testing.T, cols uint16) io.Writer {
		f, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
		if err != nil {
			t.Skipf("no pseudo-terminal: %v", err)
		}
		t.Cleanup(func() { f.Close() })
		if err := unix.IoctlSetWinsize(int(f.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: cols, Row: 24}); err != nil {
			t.Skipf("set window size: %v", err)
		}
		return f
	}
	tests := []struct {
		name string
		w    func(t *testing.T) io.Writer
		want int
	}{
		{"buffer", func(*testing.T) io.Writer { return new(bytes.Buffer) }, 0},
		{"file", func(*testing.T) io.Writer { return file }, 0},
		{"terminal 120 columns", func(t *testing.T) io.Writer { return pty(t, 120) }, 119},
		{"terminal of unknown size", func(t *testing.T) io.Writer { return pty(t, 0) }, fallbackWidth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := diagWidth(tc.w(t)); got != tc.want {
				t.Errorf("diagWidth = %d, want %d", got, tc.want)
			}
		})
	}
}
