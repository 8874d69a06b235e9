package ssh

import "testing"

func TestSudoRefusal(t *testing.T) {
	for _, c := range []struct {
		name, stderr string
		refused      bool
	}{
		{"password", "sudo: a password is required\n", true},
		{"tty", "sudo: sorry, you must have a tty to run sudo\n", true},
		{"not in sudoers", "sudo: mailplan is not in the sudoers file.  This incident will be reported.\n", true},
		{"not allowed", "Sorry, user mailplan is not allowed to execute '/usr/bin/cat /etc/x' as root on old.\n", true},
		{"the command's own error", "cat: /etc/x: No such file or directory\n", false},
		{"a command mentioning sudo", "postfix: sudo: a password is required in a log line\n", false},
		{"empty", "", false},
	} {
		if got := sudoRefusal([]byte(c.stderr)) != ""; got != c.refused {
			t.Errorf("%s: refused %v, want %v", c.name, got, c.refused)
		}
	}
}
