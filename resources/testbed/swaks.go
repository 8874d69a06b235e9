package testbed

import (
	"context"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"
)

// Swaks sends one message with swaks to server ("addr:port") from and to
// the given addresses, with headers added to (or replacing) swaks's
// defaults, and body as the message body. It returns swaks's transcript;
// err is non-nil when swaks fails, e.g. when the server rejects the
// recipient (exit status 24). It gives up after 30 s.
//
// Swaks is looked up in PATH (see Require). It uses no DNS: the server is
// given and the HELO name is fixed.
func Swaks(t testing.TB, server, from, to string, headers map[string]string, body string) (output string, err error) {
	t.Helper()
	bin := Require(t, "swaks")
	args := []string{
		"--server", server,
		"--from", from,
		"--to", to,
		"--helo", "swaks.test",
		"--timeout", "20",
		// From standard input: swaks reads an argument naming a file, or
		// starting with @, as a file name.
		"--body", "-",
	}
	keys := make([]string, 0, len(headers))
	for k := range headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--header", k+": "+headers[k])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(body)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}
