package main

import (
	"io"
	"os"

	"golang.org/x/term"
)

func isTerminalFile(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// fallbackWidth is the width diagnostics are wrapped at on a terminal whose
// size cannot be read.
const fallbackWidth = 78

// diagWidth is the width diagnostics written to w are wrapped at: the
// terminal's width when w is a terminal, and 0 (no wrapping) otherwise, so
// that what goes to a pipe, a file or a test never has a line break that
// moves with the length of a path.
func diagWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok || !isTerminalFile(f) {
		return 0
	}
	cols, _, err := term.GetSize(int(f.Fd()))
	if err != nil || cols <= 1 {
		return fallbackWidth
	}
	// One column short: a character in the last column makes many
	// terminals wrap the cursor early, leaving blank lines.
	return cols - 1
}
