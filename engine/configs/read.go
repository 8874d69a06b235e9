package configs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/hashicorp/hcl/v2"
)

// MaxFileSize is the largest configuration file mailplan reads: a plan
// file, a module's file, a -var-file, or a file read by file() and
// templatefile(). Real plans are a few kilobytes; the limit keeps what
// parsing costs (HCL holds every token of a file in memory at once) to a
// few hundred megabytes at most.
const MaxFileSize = 10 << 20

// ErrNotRegular is returned by ReadFile for a path that is not a regular
// file (a FIFO, a device such as /dev/zero, a socket or a directory).
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is returned by ReadFile for a file over MaxFileSize.
var ErrTooLarge = fmt.Errorf("larger than %d MiB", MaxFileSize>>20)

// ReadFile reads a configuration file. It reads only regular files (a
// symbolic link is followed to what it names), and none larger than
// MaxFileSize: a FIFO would block for ever and /dev/zero never ends.
//
// The file is opened with O_NONBLOCK, so that a FIFO swapped in after a
// check cannot block the open either; the type is then checked on the open
// descriptor, and reading stops after MaxFileSize+1 bytes whatever the
// size claimed.
func ReadFile(name string) ([]byte, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w (%s)", name, ErrNotRegular, fileKind(st.Mode()))
	}
	if st.Size() > MaxFileSize {
		return nil, fmt.Errorf("%s: %w (%d bytes)", name, ErrTooLarge, st.Size())
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%s: %w", name, ErrTooLarge)
	}
	return b, nil
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	case m&os.ModeSocket != 0:
		return "a socket"
	}
	return "mode " + m.String()
}

// ReadFileDiagnostic describes an error from ReadFile as a diagnostic
// whose subject is the start of the file, so that it reads as
// `file:1:1`. what names the file's role ("plan file", "variable file").
func ReadFileDiagnostic(name, what string, err error) *hcl.Diagnostic {
	d := &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Subject:  &hcl.Range{Filename: name, Start: hcl.InitialPos, End: hcl.InitialPos},
	}
	switch {
	case errors.Is(err, ErrNotRegular):
		d.Summary = "Not a regular file"
		d.Detail = fmt.Sprintf("The %s %s is %s; mailplan reads configuration only from regular files. Replace it with a regular file, or move it out of the way.", what, name, kindOf(name))
	case errors.Is(err, ErrTooLarge):
		d.Summary = "File too large"
		d.Detail = fmt.Sprintf("The %s %s is larger than %d MiB, the most mailplan reads as configuration. Split it, or keep the data elsewhere.", what, name, MaxFileSize>>20)
	default:
		d.Summary = "Cannot read " + what
		d.Detail = err.Error()
		if errors.Is(err, fs.ErrNotExist) {
			d.Subject = nil // there is no file to point into
		}
	}
	return d
}

func kindOf(name string) string {
	st, err := os.Stat(name)
	if err != nil {
		return "not a regular file"
	}
	return fileKind(st.Mode())
}
