package render

import (
	"bytes"
	"fmt"
	"io"

	"github.com/hashicorp/hcl/v2"
)

// Diagnostics writes diags as Terraform prints them: a blank line, then
// "Error: summary" or "Warning: summary", the file and line with the
// source lines and the subject highlighted, and the detail. files maps file
// names, as in the diagnostics' ranges, to the parsed files; a missing file
// prints "(source code not available)".
//
// The detail is word-wrapped at opts.Width; a Width of 0 (or less) leaves it
// unwrapped, as hcl's diagnostic writer does. Only a terminal should get
// wrapped text: in a pipe or a log, a line break that moves with the length
// of a path breaks whoever greps for the words around it.
func Diagnostics(w io.Writer, diags hcl.Diagnostics, files map[string]*hcl.File, opts TextOptions) error {
	width := opts.Width
	if width < 0 {
		width = 0
	}
	var buf bytes.Buffer
	dw := hcl.NewDiagnosticTextWriter(&buf, files, uint(width), opts.Color)
	for _, d := range diags {
		buf.WriteByte('\n')
		if d.Subject != nil && d.Subject.Filename != "" {
			// Besides Terraform's "on FILE line N", the detail starts with
			// the compact FILE:LINE:COL that editors and grep understand.
			c := *d
			loc := fmt.Sprintf("%s:%d:%d:", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
			if c.Detail == "" {
				c.Detail = loc
			} else {
				c.Detail = loc + " " + c.Detail
			}
			d = &c
		}
		if err := dw.WriteDiagnostic(d); err != nil {
			return err
		}
	}
	if n := buf.Len(); n > 0 && buf.Bytes()[n-1] != '\n' {
		buf.WriteByte('\n')
	}
	_, err := w.Write(buf.Bytes())
	return err
}
