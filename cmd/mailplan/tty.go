package main

import (
	"os"

	"golang.org/x/term"
)

func isTerminalFile(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
