package file_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/crypto/ssh"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/file"
	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/testbed"
	"github.com/mailplan/mailplan/resources/transport"
)

var localHost = resource.Host{Name: "here", Transport: "local"}

func newFile(t *testing.T) *file.File {
	return file.New(resourcetest.Pool(t))
}

// newFileThrough is newFile reaching its hosts through faults.
func newFileThrough(t *testing.T, faults *resourcetest.Faults) *file.File {
	return file.New(faults.Getter(resourcetest.Pool(t)))
}

func config(t *testing.T, f *file.File, h resource.Host, attrs map[string]cty.Value) cty.Value {
	t.Helper()
	attrs["host"] = resourcetest.HostValue(t, h)
	return resourcetest.Config(t, f, attrs)
}

// observe describes the file at p as this process sees it.
func observe(p string) func(testing.TB) []byte {
	return func(t testing.TB) []byte {
		t.Helper()
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return []byte("absent")
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		return fmt.Appendf(nil, "%v %d:%d\n%s", fi.Mode(), st.Uid, st.Gid, data)
	}
}

// transports are the ways the conformance suite reaches files in this
// machine's temporary directories.
func transports(t *testing.T) map[string]resource.Host {
	plain := testbed.SSHD(t)
	sudo := testbed.SSHDWith(t, testbed.SSHDOptions{PathPrepend: []string{testbed.FakeSudo(t)}})
	sudoHost := sudo.Host
	sudoHost.Sudo = true
	return map[string]resource.Host{"local": localHost, "ssh": plain.Host, "ssh sudo": sudoHost}
}

// TestConformance runs the shared suite for new and existing files over
// every transport; over SSH with sudo, the lifecycle only.
func TestConformance(t *testing.T) {
	root := os.Geteuid() == 0
	for tname, h := range transports(t) {
		cases := []struct {
			name           string
			before         func(t *testing.T, p string) // what is there before mailplan
			create, update map[string]cty.Value
		}{
			{
				name:   "new file",
				create: map[string]cty.Value{"content": cty.StringVal("old.example.com\n"), "mode": cty.StringVal("0640")},
				update: map[string]cty.Value{"content": cty.StringVal("new.example.com\n"), "mode": cty.StringVal("600")},
			},
			{
				name: "existing file",
				before: func(t *testing.T, p string) {
					if err := os.WriteFile(p, []byte("pre-existing\x00\xff bytes\r\n"), 0o604); err != nil {
						t.Fatal(err)
					}
					if root {
						if err := os.Chown(p, 65534, 65534); err != nil {
							t.Fatal(err)
						}
					}
				},
				create: map[string]cty.Value{"content": cty.StringVal("managed\n")},
				update: map[string]cty.Value{"content": cty.StringVal(""), "owner": cty.StringVal(owner(root)), "group": cty.StringVal(owner(root))},
			},
			{
				name:   "set-id bits",
				create: map[string]cty.Value{"content": cty.StringVal("#!/bin/sh\n"), "mode": cty.StringVal("4750")},
				update: map[string]cty.Value{"content": cty.StringVal("#!/bin/sh\nexit 0\n"), "mode": cty.StringVal("2755")},
			},
		}
		for _, tc := range cases {
			t.Run(tname+" "+tc.name, func(t *testing.T) {
				p := filepath.Join(t.TempDir(), "mailname")
				if tc.before != nil {
					tc.before(t, p)
				}
				faults := resourcetest.NewFaults()
				f := newFileThrough(t, faults)
				tc.create["path"] = cty.StringVal(p)
				tc.update["path"] = cty.StringVal(p)
				s := resourcetest.Suite{
					Type:    f,
					Create:  config(t, f, h, tc.create),
					Update:  config(t, f, h, tc.update),
					Observe: observe(p),
					Faults:  faults,
					Modes:   []resourcetest.Mode{resourcetest.Before, resourcetest.After},
				}
				if h.Sudo {
					// Every file operation is a sudo command: the fault
					// loops would take minutes, and they drive the same
					// code as over plain SSH.
					resourcetest.Run(t, resourcetest.Case{Type: s.Type, Create: s.Create, Update: s.Update, Observe: s.Observe})
					return
				}
				resourcetest.Conformance(t, s)
			})
		}
	}
}

func owner(root bool) string {
	if root {
		return "root"
	}
	return fmt.Sprint(os.Geteuid())
}

func TestOwnerGroup(t *testing.T) {
	testbed.RequireRoot(t, "needs root to give files away")
	ctx := context.Background()
	for tname, h := range transports(t) {
		t.Run(tname, func(t *testing.T) {
			f := newFile(t)
			p := filepath.Join(t.TempDir(), "aliases")
			cfg := config(t, f, h, map[string]cty.Value{
				"path": cty.StringVal(p), "content": cty.StringVal("postmaster: root\n"),
				"owner": cty.StringVal("nobody"), "group": cty.StringVal("nogroup"), "mode": cty.StringVal("0640"),
			})
			apply(t, f, cfg)
			fi, err := os.Lstat(p)
			if err != nil {
				t.Fatal(err)
			}
			st := fi.Sys().(*syscall.Stat_t)
			if st.Uid != 65534 || st.Gid != 65534 || fi.Mode() != 0o640 {
				t.Errorf("file is %v %d:%d, want -rw-r----- 65534:65534", fi.Mode(), st.Uid, st.Gid)
			}

			tests := []struct {
				name         string
				owner, group cty.Value
				wantChange   bool
			}{
				{"same names", cty.StringVal("nobody"), cty.StringVal("nogroup"), false},
				{"same ids as numbers", cty.StringVal("65534"), cty.StringVal("65534"), false},
				{"not managed", cty.NullVal(cty.String), cty.NullVal(cty.String), false},
				{"other owner", cty.StringVal("root"), cty.NullVal(cty.String), true},
				{"other group", cty.NullVal(cty.String), cty.StringVal("0"), true},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					cfg := config(t, f, h, map[string]cty.Value{
						"path": cty.StringVal(p), "content": cty.StringVal("postmaster: root\n"),
						"owner": tt.owner, "group": tt.group, "mode": cty.StringVal("0640"),
					})
					read, plan := resourcetest.ReadPlan(ctx, t, f, cfg)
					if changed := !plan.Planned.RawEquals(read.Current); changed != tt.wantChange {
						t.Errorf("change %v, want %v (-current +planned):\n%s", changed, tt.wantChange,
							cmp.Diff(read.Current.GoString(), plan.Planned.GoString()))
					}
				})
			}
		})
	}
}

// apply reads, plans and applies cfg, and returns the snapshot.
func apply(t *testing.T, f *file.File, cfg cty.Value) []byte {
	t.Helper()
	ctx := context.Background()
	read, plan := resourcetest.ReadPlan(ctx, t, f, cfg)
	if _, err := f.Apply(ctx, resource.ApplyRequest{Config: cfg, Current: read.Current, Planned: plan.Planned,
		Snapshot: read.Snapshot, Journal: &resourcetest.Journal{}}); err != nil {
		t.Fatal(err)
	}
	return read.Snapshot
}

func TestPlan(t *testing.T) {
	ctx := context.Background()
	f := newFile(t)
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing")
	if err := os.WriteFile(existing, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		attrs map[string]cty.Value
		want  map[string]cty.Value // planned attributes checked
	}{
		{"new file keeps owner unset",
			map[string]cty.Value{"path": cty.StringVal(filepath.Join(dir, "new")), "content": cty.StringVal("a")},
			map[string]cty.Value{"mode": cty.StringVal("0644"), "owner": cty.NullVal(cty.String), "group": cty.NullVal(cty.String)}},
		{"three-digit mode",
			map[string]cty.Value{"path": cty.StringVal(filepath.Join(dir, "new")), "content": cty.StringVal("a"), "mode": cty.StringVal("755")},
			map[string]cty.Value{"mode": cty.StringVal("0755")}},
		{"existing file keeps its owner",
			map[string]cty.Value{"path": cty.StringVal(existing), "content": cty.StringVal("x"), "mode": cty.StringVal("0600")},
			map[string]cty.Value{"owner": cty.StringVal(owner(os.Geteuid() == 0)), "content": cty.StringVal("x")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config(t, f, localHost, tt.attrs)
			_, plan := resourcetest.ReadPlan(ctx, t, f, cfg)
			for name, want := range tt.want {
				if got := plan.Planned.GetAttr(name); !got.RawEquals(want) {
					t.Errorf("planned %s = %#v, want %#v", name, got, want)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	f := newFile(t)
	tests := []struct {
		name  string
		attrs map[string]cty.Value
		want  []string // summaries
	}{
		{"ok", map[string]cty.Value{"path": cty.StringVal("/etc/mailname"), "content": cty.StringVal("x")}, nil},
		{"ok mode", map[string]cty.Value{"path": cty.StringVal("/etc/mailname"), "content": cty.StringVal("x"), "mode": cty.StringVal("640")}, nil},
		{"unknown path", map[string]cty.Value{"path": cty.UnknownVal(cty.String), "content": cty.StringVal("x")}, nil},
		{"relative", map[string]cty.Value{"path": cty.StringVal("etc/mailname"), "content": cty.StringVal("x")}, []string{"Relative file path"}},
		{"unclean", map[string]cty.Value{"path": cty.StringVal("/etc//mailname/"), "content": cty.StringVal("x")}, []string{"Unclean file path"}},
		{"bad mode", map[string]cty.Value{"path": cty.StringVal("/etc/mailname"), "content": cty.StringVal("x"), "mode": cty.StringVal("0999")}, []string{"Invalid file mode"}},
		{"long mode", map[string]cty.Value{"path": cty.StringVal("/etc/mailname"), "content": cty.StringVal("x"), "mode": cty.StringVal("00644")}, []string{"Invalid file mode"}},
		{"several", map[string]cty.Value{"path": cty.StringVal("x"), "content": cty.StringVal("x"), "mode": cty.StringVal("rw"), "owner": cty.StringVal("")},
			[]string{"Relative file path", "Invalid file mode", "Empty owner"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.Validate(context.Background(), config(t, f, localHost, tt.attrs))
			var got []string
			var errs resource.AttrErrors
			if errors.As(err, &errs) {
				for _, e := range errs {
					got = append(got, e.Summary)
				}
			} else if err != nil {
				t.Fatalf("error %v is not AttrErrors", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("summaries (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNotARegularFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink("sub", link); err != nil {
		t.Fatal(err)
	}
	for tname, h := range transports(t) {
		for _, tc := range []struct{ name, path, want string }{
			{"directory", sub, "is a directory"},
			{"symlink", link, "is a symbolic link"},
		} {
			t.Run(tname+" "+tc.name, func(t *testing.T) {
				f := newFile(t)
				cfg := config(t, f, h, map[string]cty.Value{"path": cty.StringVal(tc.path), "content": cty.StringVal("x")})
				_, err := f.Read(ctx, resource.ReadRequest{Config: cfg})
				if err == nil || !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("Read: %v; want an error naming %s that says %q", err, tc.path, tc.want)
				}
				// Restoring "there was no file" must not remove it.
				err = f.Restore(ctx, resource.RestoreRequest{Config: cfg, Snapshot: []byte(`{"path":"` + tc.path + `","exists":false}`)})
				if err == nil || !strings.Contains(err.Error(), tc.path) {
					t.Errorf("Restore: %v; want an error naming %s", err, tc.path)
				}
				if _, err := os.Lstat(tc.path); err != nil {
					t.Errorf("%s is gone: %v", tc.path, err)
				}
			})
		}
	}
}

func TestHostKeyRefused(t *testing.T) {
	srv := testbed.SSHD(t)
	other := testbed.NewKey(t)
	tests := []struct {
		name, pattern string
	}{
		{"unknown key", "[127.0.0.1]:1"},
		{"changed key", fmt.Sprintf("[127.0.0.1]:%d", srv.Host.Port)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := srv.Host
			h.KnownHosts = filepath.Join(t.TempDir(), "known_hosts")
			line := tt.pattern + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(other)))
			if err := os.WriteFile(h.KnownHosts, []byte(line+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			f := newFile(t)
			p := filepath.Join(t.TempDir(), "mailname")
			cfg := config(t, f, h, map[string]cty.Value{"path": cty.StringVal(p), "content": cty.StringVal("x")})
			_, err := f.Read(context.Background(), resource.ReadRequest{Config: cfg})
			if !errors.Is(err, transport.ErrHostKey) {
				t.Errorf("Read: %v, want ErrHostKey", err)
			}
			if err != nil && !strings.Contains(err.Error(), "ssh-keyscan") {
				t.Errorf("error does not say how to trust the key: %v", err)
			}
		})
	}
}

// The snapshot, which goes into the state, holds the earlier content's
// keyed digest, never its plain SHA-256; Restore finds the kept copy with
// the same key, still reads snapshots with a plain digest, and refuses,
// naming the key, when the state's key is another.
func TestSnapshotDigestKeyed(t *testing.T) {
	f := newFile(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "secret")
	if err := os.WriteFile(p, []byte("hunter2"), 0o600); err != nil {
		t.Fatal(err)
	}
	resourcetest.CheckSnapshotDigest(t, resourcetest.DigestCase{
		Type:    f,
		Config:  config(t, f, localHost, map[string]cty.Value{"path": cty.StringVal(p), "content": cty.StringVal("new"), "mode": cty.StringVal("0600")}),
		Path:    p,
		Before:  "hunter2",
		After:   "new",
		Changed: "changed",
		Mode:    0o600,
	})
}
