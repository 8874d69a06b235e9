package transporttest

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mailplan/mailplan/resources/transport"
)

// CheckHost runs the conformance checks of transport.Host against h. dir is
// an empty directory that h reaches under the same path as this process
// (the local transport, or an sshd of package testbed on this machine), so
// that results can be checked with the os package too.
func CheckHost(t *testing.T, h transport.Host, dir string) {
	ctx := context.Background()
	if h.Name() == "" {
		t.Errorf("Name() is empty")
	}

	t.Run("run quoting", func(t *testing.T) {
		pwned := filepath.Join(dir, "pwned")
		args := []string{
			"a; touch " + pwned,
			"$(touch " + pwned + ")",
			"`touch " + pwned + "`",
			"it's",
			"'\\''",
			"",
			"two\nlines",
			"$HOME ~ * ?",
			"-n",
		}
		res, err := h.Run(ctx, append([]string{"printf", "[%s]\\n"}, args...), transport.RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var want strings.Builder
		for _, a := range args {
			want.WriteString("[" + a + "]\n")
		}
		if diff := cmp.Diff(want.String(), string(res.Stdout)); diff != "" {
			t.Errorf("printf output (-want +got):\n%s", diff)
		}
		if _, err := os.Lstat(pwned); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("an argument ran as a command: %s exists (%v)", pwned, err)
		}
	})

	t.Run("run", func(t *testing.T) {
		tests := []struct {
			name string
			argv []string
			opts transport.RunOptions
			want transport.Result
		}{
			{"exit code", []string{"sh", "-c", "echo out; echo err >&2; exit 3"}, transport.RunOptions{},
				transport.Result{Stdout: []byte("out\n"), Stderr: []byte("err\n"), ExitCode: 3}},
			{"stdin", []string{"cat"}, transport.RunOptions{Stdin: strings.NewReader("hello\x00world")},
				transport.Result{Stdout: []byte("hello\x00world")}},
			{"env", []string{"sh", "-c", `printf %s "$MP_A,$MP_B"`}, transport.RunOptions{Env: []string{"MP_A=x y", "MP_B=it's"}},
				transport.Result{Stdout: []byte("x y,it's")}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := h.Run(ctx, tt.argv, tt.opts)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b []byte) bool { return string(a) == string(b) })); diff != "" {
					t.Errorf("result (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("run cancelled", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		// Short: an sshd that refuses signal requests lets it finish.
		_, err := h.Run(cctx, []string{"sleep", "5"}, transport.RunOptions{})
		if err == nil {
			t.Fatal("Run of sleep 5 with a 300ms context returned no error")
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("Run returned %v after the context was done", d)
		}
	})

	t.Run("files", func(t *testing.T) {
		d := filepath.Join(dir, "files")
		if err := h.MkdirAll(ctx, filepath.Join(d, "sub", "deeper"), 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(d, "a file")
		if _, err := h.Stat(ctx, p); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Stat of a missing file: got %v, want fs.ErrNotExist", err)
		}
		for i, w := range []struct {
			data []byte
			mode fs.FileMode
		}{
			{[]byte("first\n"), 0o640},
			{[]byte("second, longer\x00\xff\n"), 0o600},
			{nil, fs.ModeSetuid | 0o755},
			{[]byte("last"), 0o644},
		} {
			if err := h.WriteFile(ctx, p, w.data, transport.WriteOptions{Mode: w.mode, UID: -1, GID: -1}); err != nil {
				t.Fatalf("write %d: %v", i, err)
			}
			got, err := h.ReadFile(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(w.data) {
				t.Errorf("write %d: read %q, want %q", i, got, w.data)
			}
			fi, err := h.Stat(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if !fi.IsRegular() || fi.Mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != w.mode || fi.Size != int64(len(w.data)) || fi.Name != "a file" {
				t.Errorf("write %d: stat = %+v, want regular file of mode %v, size %d", i, fi, w.mode, len(w.data))
			}
			osfi, err := os.Lstat(p)
			if err != nil {
				t.Fatal(err)
			}
			if osfi.Mode() != fi.Mode {
				t.Errorf("write %d: mode %v, os says %v", i, fi.Mode, osfi.Mode())
			}
		}
		if os.Geteuid() == 0 {
			if err := h.WriteFile(ctx, p, []byte("owned"), transport.WriteOptions{Mode: 0o640, UID: 65534, GID: 65534}); err != nil {
				t.Fatal(err)
			}
			fi, err := h.Stat(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.UID != 65534 || fi.GID != 65534 || fi.Mode.Perm() != 0o640 {
				t.Errorf("after WriteFile as 65534:65534: %+v", fi)
			}
			if err := h.Chown(ctx, p, 0, -1); err != nil {
				t.Fatal(err)
			}
			if fi, _ := h.Stat(ctx, p); fi.UID != 0 || fi.GID != 65534 {
				t.Errorf("after Chown(0, -1): uid %d gid %d, want 0 65534", fi.UID, fi.GID)
			}
		}

		if err := h.Chmod(ctx, p, 0o600); err != nil {
			t.Fatal(err)
		}
		mtime := time.Date(2020, 2, 3, 4, 5, 6, 0, time.UTC)
		if err := h.Chtimes(ctx, p, mtime); err != nil {
			t.Fatal(err)
		}
		if fi, err := h.Stat(ctx, p); err != nil || fi.Mode.Perm() != 0o600 || !fi.ModTime.Equal(mtime) {
			t.Errorf("after Chmod 0600 and Chtimes %v: %+v, %v", mtime, fi, err)
		}

		rc, err := h.Open(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		if err != nil || string(got) != string(mustRead(t, p)) {
			t.Errorf("Open: read %q, %v", got, err)
		}
		if err := rc.Close(); err != nil {
			t.Errorf("close: %v", err)
		}

		created := filepath.Join(d, "created")
		wc, err := h.Create(ctx, created, 0o640)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(wc, "streamed"); err != nil {
			t.Fatal(err)
		}
		if err := wc.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Create(ctx, created, 0o640); err == nil {
			t.Errorf("Create of an existing file succeeded")
		}
		if string(mustRead(t, created)) != "streamed" {
			t.Errorf("Create wrote %q", mustRead(t, created))
		}
		if fi, _ := os.Stat(created); fi == nil || fi.Mode().Perm() != 0o640 {
			t.Errorf("Create made %v, want mode 0640", fi)
		}
		renamed := filepath.Join(d, "renamed")
		if err := h.Rename(ctx, created, renamed); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("renamed", filepath.Join(d, "link")); err != nil {
			t.Fatal(err)
		}

		entries, err := h.ReadDir(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		type entry struct {
			Name    string
			Dir     bool
			Symlink bool
		}
		var gotEntries []entry
		for _, e := range entries {
			gotEntries = append(gotEntries, entry{e.Name, e.IsDir(), e.IsSymlink()})
		}
		want := []entry{{"a file", false, false}, {"link", false, true}, {"renamed", false, false}, {"sub", true, false}}
		if diff := cmp.Diff(want, gotEntries); diff != "" {
			t.Errorf("ReadDir (-want +got):\n%s", diff)
		}
		if fi, err := h.Stat(ctx, filepath.Join(d, "link")); err != nil || !fi.IsSymlink() {
			t.Errorf("Stat of a symlink: %+v, %v; want the link itself", fi, err)
		}

		for _, rm := range []string{renamed, renamed, filepath.Join(d, "sub", "deeper")} {
			if err := h.Remove(ctx, rm); err != nil {
				t.Errorf("Remove %s: %v", rm, err)
			}
		}
		if _, err := os.Lstat(filepath.Join(d, "sub", "deeper")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("empty directory not removed: %v", err)
		}
		if err := h.Remove(ctx, d); err == nil {
			t.Errorf("Remove of a non-empty directory succeeded")
		}
		// WriteFile leaves no temporary file behind, and refuses a
		// directory.
		if err := h.WriteFile(ctx, filepath.Join(d, "sub"), []byte("x"), transport.WriteOptions{Mode: 0o644, UID: -1, GID: -1}); err == nil {
			t.Errorf("WriteFile over a directory succeeded")
		}
		names, _ := os.ReadDir(d)
		for _, n := range names {
			if strings.Contains(n.Name(), "mailplan-tmp") {
				t.Errorf("temporary file left behind: %s", n.Name())
			}
		}
	})

	t.Run("users", func(t *testing.T) {
		lookups := []struct {
			name    string
			fn      func(context.Context, string) (int, error)
			arg     string
			want    int
			wantErr bool
		}{
			{"user root", h.LookupUser, "root", 0, false},
			{"user numeric", h.LookupUser, "4242", 4242, false},
			{"user nobody", h.LookupUser, "nobody", 65534, false},
			{"user unknown", h.LookupUser, "no-such-user-mailplan", 0, true},
			{"group root", h.LookupGroup, "root", 0, false},
			{"group numeric", h.LookupGroup, "0", 0, false},
			{"group unknown", h.LookupGroup, "no-such-group-mailplan", 0, true},
		}
		for _, tt := range lookups {
			t.Run(tt.name, func(t *testing.T) {
				got, err := tt.fn(ctx, tt.arg)
				if (err != nil) != tt.wantErr {
					t.Fatalf("error %v, want error %v", err, tt.wantErr)
				}
				if err == nil && got != tt.want {
					t.Errorf("got %d, want %d", got, tt.want)
				}
			})
		}
		names := []struct {
			name string
			fn   func(context.Context, int) (string, error)
			id   int
			want string
		}{
			{"uid 0", h.UserName, 0, "root"},
			{"uid unknown", h.UserName, 3999999, ""},
			{"gid 0", h.GroupName, 0, "root"},
			{"gid unknown", h.GroupName, 3999999, ""},
		}
		for _, tt := range names {
			t.Run(tt.name, func(t *testing.T) {
				got, err := tt.fn(ctx, tt.id)
				if err != nil {
					t.Fatal(err)
				}
				if got != tt.want {
					t.Errorf("got %q, want %q", got, tt.want)
				}
			})
		}
	})
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
