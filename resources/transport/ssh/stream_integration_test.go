package ssh_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mailplan/mailplan/resources/testbed"
)

// TestStreamFiles: the files of a list come in its order with their
// content; a hard link comes as its content; a symbolic link (to a file
// or a directory), a missing path and a directory are not read, and are
// left to the caller; names with spaces, newlines and a leading dash are
// names.
func TestStreamFiles(t *testing.T) {
	for _, sudo := range []bool{false, true} {
		t.Run(map[bool]string{false: "sftp", true: "sudo"}[sudo], func(t *testing.T) {
			opts := testbed.SSHDOptions{}
			if sudo {
				opts.PathPrepend = []string{testbed.FakeSudo(t)}
			}
			h := dial(t, testbed.SSHDWith(t, opts), sudo)
			dir := t.TempDir()
			secret := filepath.Join(t.TempDir(), "secret")
			write := func(name, data string) string {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
					t.Fatal(err)
				}
				return p
			}
			a := write("a", "first")
			odd := write("-odd name\nwith newline", "second")
			big := write("big", strings.Repeat("x", 300<<10))
			must(t, os.WriteFile(secret, []byte("secret"), 0o600))
			link := filepath.Join(dir, "link")
			must(t, os.Symlink(secret, link))
			hard := filepath.Join(dir, "hard")
			must(t, os.Link(a, hard))
			sub := filepath.Join(dir, "sub")
			must(t, os.Mkdir(sub, 0o700))
			paths := []string{a, link, filepath.Join(dir, "missing"), odd, sub, hard, big}
			got := map[int]string{}
			ok, err := h.StreamFiles(context.Background(), paths, func(i int, size int64, r io.Reader) error {
				b, err := io.ReadAll(r)
				if int64(len(b)) != size {
					t.Errorf("%s: %d bytes, header says %d", paths[i], len(b), size)
				}
				got[i] = string(b)
				return err
			})
			if !ok || err != nil {
				t.Fatalf("StreamFiles: ok %v, %v", ok, err)
			}
			want := map[int]string{0: "first", 3: "second", 5: "first", 6: strings.Repeat("x", 300<<10)}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("streamed (-want +got):\n%s", d)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestListTree: one find lists what ReadDir lists, directory by
// directory, links not followed, any name a name.
func TestListTree(t *testing.T) {
	h := dial(t, testbed.SSHD(t), false)
	ctx := context.Background()
	root := t.TempDir()
	for _, d := range []string{"a/cur", "a/new", "b c\nd/cur", "-e", "empty"} {
		must(t, os.MkdirAll(filepath.Join(root, d), 0o750))
	}
	for _, f := range []string{"a/cur/1:2,S", "a/new/2", "b c\nd/cur/x y", "-e/-f", "top"} {
		must(t, os.WriteFile(filepath.Join(root, f), []byte(f), 0o640))
	}
	must(t, os.Chmod(filepath.Join(root, "top"), 0o4755))
	must(t, os.Symlink("/etc", filepath.Join(root, "a", "link")))
	tree, ok, err := h.ListTree(ctx, root)
	if !ok || err != nil {
		t.Fatalf("ListTree: ok %v, %v", ok, err)
	}
	var dirs []string
	must(t, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return err
	}))
	if len(tree) != len(dirs) {
		t.Errorf("%d directories listed, want %d", len(tree), len(dirs))
	}
	for _, d := range dirs {
		want, err := h.ReadDir(ctx, d)
		must(t, err)
		if diff := cmp.Diff(want, tree[d], cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s (-ReadDir +ListTree):\n%s", d, diff)
		}
	}
}
