package ssh

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/testbed"
)

func TestQuote(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		want string
	}{
		{"plain", []string{"postfix", "check"}, `'postfix' 'check'`},
		{"separator", []string{"echo", "a; touch /tmp/x"}, `'echo' 'a; touch /tmp/x'`},
		{"quote", []string{"it's"}, `'it'\''s'`},
		{"empty", []string{"printf", ""}, `'printf' ''`},
		{"expansions", []string{"$(id)", "`id`", "$HOME", "*"}, "'$(id)' '`id`' '$HOME' '*'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Quote(tt.argv)); diff != "" {
				t.Errorf("Quote (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name    string
		sudo    bool
		argv    []string
		env     []string
		want    string
		wantErr bool
	}{
		{"plain", false, []string{"id", "-u"}, nil, `'id' '-u'`, false},
		{"sudo", true, []string{"id", "-u"}, nil, `'sudo' '-n' '--' 'id' '-u'`, false},
		{"env", false, []string{"id"}, []string{"LC_ALL=C"}, `'env' 'LC_ALL=C' 'id'`, false},
		{"sudo env", true, []string{"id"}, []string{"A=it's"}, `'sudo' '-n' '--' 'env' 'A=it'\''s' 'id'`, false},
		{"bad env", false, []string{"id"}, []string{"NOEQUALS"}, "", true},
		{"program with =", false, []string{"a=b"}, []string{"A=1"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &Host{cfg: resource.Host{Sudo: tt.sudo}}
			got, err := h.commandLine(tt.argv, tt.env)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("command line (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	t.Setenv("HOME", "/home/op")
	tests := []struct {
		name string
		in   resource.Host
		want resource.Host
	}{
		{"defaults", resource.Host{Address: "192.0.2.1"},
			resource.Host{Address: "192.0.2.1", Port: 22, User: "root", KnownHosts: "/home/op/.ssh/known_hosts"}},
		{"given", resource.Host{Address: "192.0.2.1", Port: 2222, User: "op", IdentityFile: "~/.ssh/id", KnownHosts: "/etc/kh"},
			resource.Host{Address: "192.0.2.1", Port: 2222, User: "op", IdentityFile: "/home/op/.ssh/id", KnownHosts: "/etc/kh"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Config(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseFind(t *testing.T) {
	out := []byte("f 4755 3 1580702706.5000000000 0 65534 1 a b\x00d 755 4096 1580702706 1 2 0 dir\x00")
	infos, depths, err := parseFind(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 || infos[0].Name != "a b" || infos[0].Mode != fs.ModeSetuid|0o755 || infos[0].GID != 65534 ||
		infos[0].ModTime.UnixNano() != 1580702706500000000 || !infos[1].IsDir() || depths[0] != 1 || depths[1] != 0 {
		t.Errorf("parseFind = %+v %v", infos, depths)
	}
}

func TestParseDF(t *testing.T) {
	out := "Filesystem     1024-blocks     Used Available Capacity Mounted on\n/dev/sda1        102400000 51200000  40960000      56% /\n"
	got, err := parseDF([]byte(out))
	if err != nil || got != 40960000*1024 {
		t.Errorf("parseDF = %d, %v", got, err)
	}
	if _, err := parseDF([]byte("garbage")); err == nil {
		t.Error("parseDF accepted garbage")
	}
}

// The write check's script, run as a user who is not root (nobody, with
// setpriv), answers as the SSH user's shell would: a directory of root's
// is not writable, a sticky world-writable one is, and a directory not
// there yet is answered for the nearest one above it.
func TestWritableScriptNotRoot(t *testing.T) {
	testbed.RequireRoot(t, "running the check as another user")
	setpriv := testbed.Require(t, "setpriv")
	base := t.TempDir()
	// t.TempDir's directories are 0700: nobody must reach into them.
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	rootOnly, shared := filepath.Join(base, "etc-postfix"), filepath.Join(base, "shared")
	for d, mode := range map[string]os.FileMode{rootOnly: 0o755, shared: 0o1777} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
	}
	ask := []string{rootOnly, shared, filepath.Join(rootOnly, "maps", "sub"), filepath.Join(shared, "new")}
	cmd := exec.Command(setpriv, append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", writableScript, "sh"}, ask...)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	got, ok := parseWritable(out, len(ask))
	if !ok {
		t.Fatalf("unreadable answer %q", out)
	}
	want := []writable{{false, rootOnly}, {true, shared}, {false, rootOnly}, {true, shared}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(writable{})); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
}

func TestParseWritable(t *testing.T) {
	for _, c := range []struct {
		name string
		out  string
		n    int
		ok   bool
	}{
		{"two", "w /a\x00- /b\x00", 2, true},
		{"a newline in a name", "w /a\nb\x00", 1, true},
		{"missing one", "w /a\x00", 2, false},
		{"nologin's message", "This account is currently not available.\n", 1, false},
		{"nothing", "", 1, false},
	} {
		if _, ok := parseWritable([]byte(c.out), c.n); ok != c.ok {
			t.Errorf("%s: ok %v, want %v", c.name, ok, c.ok)
		}
	}
}

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
