package render

import (
	"fmt"
	"io"

	"github.com/mailplan/mailplan/engine/lang"
)

// sensitive is the cty mark render hides; the engine sets it (lang.Sensitive).
const sensitive = lang.Sensitive

// TextOptions control human-readable output.
type TextOptions struct {
	// Color adds ANSI colours: green for +, yellow for ~, red for -, bold
	// for headers. Set it only when writing to a terminal.
	Color bool
	// Width wraps diagnostic detail text; 0 means no wrapping. Set it only
	// when writing to a terminal.
	Width int
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
)

// ApplyComplete prints the last line of a successful apply.
func ApplyComplete(w io.Writer, added, changed, destroyed int) error {
	_, err := fmt.Fprintf(w, "Apply complete! Resources: %d added, %d changed, %d destroyed.\n", added, changed, destroyed)
	return err
}
