package postfix

import "testing"

func TestWarnings(t *testing.T) {
	for _, tc := range []struct {
		name, stderr, want string
	}{
		{"none", "", ""},
		{"table", "postmap: warning: /dev/stdin, line 2: unmatched parenthesis\n", "postmap: warning: /dev/stdin, line 2: unmatched parenthesis"},
		{"fatal", "postmap: fatal: open x: No such file\n", "postmap: fatal: open x: No such file"},
		{"main.cf changed between reads",
			"postmap: warning: /etc/postfix/main.cf, line 54: overriding earlier entry: transport_maps=hash:/etc/postfix/a\n", ""},
		{"both",
			"postmap: warning: /etc/postfix/main.cf, line 3: overriding earlier entry: x=y\npostmap: warning: /dev/stdin, line 2: bad\n",
			"postmap: warning: /dev/stdin, line 2: bad"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := warnings([]byte(tc.stderr)); got != tc.want {
				t.Errorf("warnings(%q) = %q, want %q", tc.stderr, got, tc.want)
			}
		})
	}
}
