package ssh

import (
	"io/fs"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mailplan/mailplan/engine/resource"
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
