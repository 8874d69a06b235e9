package configs

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzLoad feeds arbitrary bytes to the loader's path for one plan file:
// the nesting and token check, HCL's parser, and the decoding of every
// block. None may panic, and the scanner must never count less nesting
// than HCL's own lexer shows (that would let a deep file reach the
// parser). Run with: go test -fuzz=FuzzLoad ./engine/configs/
func FuzzLoad(f *testing.F) {
	for _, root := range []string{"../testdata", "../../plans"} {
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".hcl") {
				if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
					f.Add(b)
				}
			}
			return nil
		})
	}
	for _, c := range nestingCases {
		f.Add([]byte(c.src))
	}
	f.Add([]byte("a = " + strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300) + "\n"))
	f.Add([]byte("a = \"" + strings.Repeat("${\"", 200) + "\"\n"))
	f.Add([]byte("a = <<EOT\n${<<EOT\n${-!-!x}\nEOT\n}\nEOT\n"))
	f.Add([]byte("locals {\n  a = [" + strings.Repeat("{b = [1, \"x\"]},", 2000) + "]\n}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		// A hang is a finding too: the fuzzer keeps the input of a
		// worker that dies.
		watchdog := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("input of %d bytes took over 10 s", len(src))) })
		defer watchdog.Stop()
		checkAgainstLexer(t, src)
		l := NewLoader()
		file, _ := l.parseSource("fuzz.mp.hcl", src)
		if file == nil || file.Body == nil {
			return
		}
		m := newModule(".", nil)
		m.addFile(file, true)
		m.checkMoves()
	})
}
