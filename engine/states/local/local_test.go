package local

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mailplan/mailplan/engine/states"
	"github.com/mailplan/mailplan/engine/states/statefile"
)

var ctx = context.Background()

func newBackend(t *testing.T) *Backend {
	t.Helper()
	return New(filepath.Join(t.TempDir(), "sub", "dir", "mailplan.mpstate"), nil)
}

func withResource(s *states.State, addr string) *states.State {
	s.Resources[addr] = &states.Resource{Addr: addr, Type: "file", Config: json.RawMessage(`{"path":"/x"}`)}
	return s
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestReadMissing(t *testing.T) {
	b := newBackend(t)
	s, err := b.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(s.Lineage) {
		t.Errorf("lineage %q is not a v4 UUID", s.Lineage)
	}
	want := states.NewState(s.Lineage)
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	s2, _ := New(b.Path(), nil).Read(ctx)
	if s2.Lineage == s.Lineage {
		t.Error("two new states share a lineage")
	}
	if _, err := os.Stat(b.Path()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read created the file: %v", err)
	}
	if _, err := b.ReadRaw(ctx); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadRaw of no state: %v, want fs.ErrNotExist", err)
	}
}

func TestWriteRead(t *testing.T) {
	b := newBackend(t)
	s, _ := b.Read(ctx)
	withResource(s, "file.a")
	if err := b.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	if s.Serial != 1 {
		t.Errorf("serial after first write %d, want 1", s.Serial)
	}
	if got := mode(t, b.Path()); got != 0o600 {
		t.Errorf("state mode %v, want 0600", got)
	}
	if got := mode(t, filepath.Dir(b.Path())); got != 0o700 {
		t.Errorf("directory mode %v, want 0700", got)
	}
	if _, err := os.Stat(b.BackupPath()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("backup after the first write: %v", err)
	}
	first, _ := b.ReadRaw(ctx)

	withResource(s, "file.b")
	if err := b.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	if s.Serial != 2 {
		t.Errorf("serial after second write %d, want 2", s.Serial)
	}
	backup, err := os.ReadFile(b.BackupPath())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(first), string(backup)); diff != "" {
		t.Errorf("backup is not the previous version (-want +got):\n%s", diff)
	}
	if got := mode(t, b.BackupPath()); got != 0o600 {
		t.Errorf("backup mode %v, want 0600", got)
	}

	// A fresh backend (another mailplan run) reads what was written.
	got, err := New(b.Path(), nil).Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, got); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
	raw, _ := b.ReadRaw(ctx)
	enc, _ := statefile.Encode(s)
	if string(raw) != string(enc) {
		t.Errorf("file is not the statefile encoding:\n%s", raw)
	}

	entries, _ := os.ReadDir(filepath.Dir(b.Path()))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"mailplan.mpstate", "mailplan.mpstate.backup"}, names); diff != "" {
		t.Errorf("directory holds temporary files (-want +got):\n%s", diff)
	}
}

func TestWriteExistingFileModeIsTightened(t *testing.T) {
	b := newBackend(t)
	s, _ := b.Read(ctx)
	if err := b.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	os.Chmod(b.Path(), 0o644)
	if err := b.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got := mode(t, b.Path()); got != 0o600 {
		t.Errorf("state mode %v, want 0600", got)
	}
	if got := mode(t, b.BackupPath()); got != 0o600 {
		t.Errorf("backup mode %v, want 0600", got)
	}
}

func TestWriteConflicts(t *testing.T) {
	tests := []struct {
		name string
		// interfere runs between a's Read and a's Write.
		interfere func(t *testing.T, path string, s *states.State)
		want      string
	}{
		{
			name: "another writer",
			interfere: func(t *testing.T, path string, _ *states.State) {
				other := New(path, nil)
				s, _ := other.Read(ctx)
				if err := other.Write(ctx, s); err != nil {
					t.Fatal(err)
				}
			},
			want: "the file is at serial 2, but serial 1 was read",
		},
		{
			name: "replaced by another lineage",
			interfere: func(t *testing.T, path string, _ *states.State) {
				other := states.NewState("other-lineage")
				other.Serial = 1
				data, _ := statefile.Encode(other)
				os.WriteFile(path, data, 0o600)
			},
			want: "the file now has lineage other-lineage",
		},
		{
			name: "removed",
			interfere: func(t *testing.T, path string, _ *states.State) {
				os.Remove(path)
			},
			want: "the file was removed since serial 1 was read",
		},
		{
			name: "state of another lineage",
			interfere: func(t *testing.T, _ string, s *states.State) {
				s.Lineage = "mine-now"
			},
			want: "the state has lineage mine-now but lineage",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := newBackend(t).Path()
			setup := New(path, nil)
			s0, _ := setup.Read(ctx)
			if err := setup.Write(ctx, s0); err != nil {
				t.Fatal(err)
			}
			a := New(path, nil)
			s, err := a.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			tt.interfere(t, path, s)
			before, _ := os.ReadFile(path)
			err = a.Write(ctx, s)
			if !errors.Is(err, ErrChanged) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want ErrChanged with %q", err, tt.want)
			}
			after, _ := os.ReadFile(path)
			if string(before) != string(after) {
				t.Error("a refused write changed the file")
			}
		})
	}
}

func TestWriteWithoutRead(t *testing.T) {
	// Before any Read, the state's own serial and lineage are what the file
	// must still have.
	b := newBackend(t)
	s, _ := b.Read(ctx)
	b.Write(ctx, s)
	stale := *s
	b.Write(ctx, s)
	if err := New(b.Path(), nil).Write(ctx, &stale); !errors.Is(err, ErrChanged) {
		t.Errorf("stale state written by a fresh backend: %v", err)
	}
	if err := New(b.Path(), nil).Write(ctx, s); err != nil || s.Serial != 3 {
		t.Errorf("current state by a fresh backend: %v, serial %d", err, s.Serial)
	}
}

func TestReadCorrupt(t *testing.T) {
	tests := []struct{ name, content, want string }{
		{"empty", "", "decode state: input is empty"},
		{"garbage", "{\"version\": 1,\n oops", "line 2, column 2"},
		{"future", `{"version": 99}`, "format version 99 is newer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackend(t)
			os.MkdirAll(filepath.Dir(b.Path()), 0o700)
			os.WriteFile(b.Path(), []byte(tt.content), 0o600)
			_, err := b.Read(ctx)
			if err == nil || !strings.Contains(err.Error(), b.Path()) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error naming the file and %q", err, tt.want)
			}
			if err := b.Write(ctx, states.NewState("x")); err == nil {
				t.Error("Write replaced a corrupt file")
			}
		})
	}
}

func TestPush(t *testing.T) {
	type stored struct {
		Lineage string
		Serial  uint64
		Addrs   []string
	}
	tests := []struct {
		name    string
		push    func(cur *states.State) *states.State
		force   bool
		want    stored
		refused string
	}{
		{
			name: "newer serial",
			push: func(cur *states.State) *states.State { cur.Serial = 9; return withResource(cur, "file.new") },
			want: stored{"L", 9, []string{"file.a", "file.new"}},
		},
		{
			name: "identical is a no-op",
			push: func(cur *states.State) *states.State { return cur },
			want: stored{"L", 2, []string{"file.a"}},
		},
		{
			name:    "older serial",
			push:    func(cur *states.State) *states.State { cur.Serial = 1; return cur },
			want:    stored{"L", 2, []string{"file.a"}},
			refused: "the state has serial 1, older than the stored serial 2",
		},
		{
			name:    "same serial, other contents",
			push:    func(cur *states.State) *states.State { return withResource(cur, "file.new") },
			want:    stored{"L", 2, []string{"file.a"}},
			refused: "the state has the stored serial 2 but other contents",
		},
		{
			name:    "other lineage",
			push:    func(cur *states.State) *states.State { cur.Lineage = "M"; cur.Serial = 10; return cur },
			want:    stored{"L", 2, []string{"file.a"}},
			refused: "the state has lineage M but the stored state has lineage L",
		},
		{
			name: "forced older serial is written above the stored one",
			push: func(cur *states.State) *states.State {
				cur.Serial = 1
				cur.Resources = map[string]*states.Resource{}
				return cur
			},
			force: true,
			want:  stored{"L", 3, nil},
		},
		{
			name:  "forced other lineage",
			push:  func(cur *states.State) *states.State { cur.Lineage = "M"; cur.Serial = 10; return cur },
			force: true,
			want:  stored{"M", 10, []string{"file.a"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackend(t)
			s := withResource(states.NewState("L"), "file.a")
			s.Serial = 2
			if err := b.Push(ctx, s, false); err != nil {
				t.Fatal(err)
			}
			before, _ := b.ReadRaw(ctx)
			cur, _ := statefile.Decode(before)
			pushed := tt.push(cur)
			pushedSerial := pushed.Serial
			err := b.Push(ctx, pushed, tt.force)
			if tt.refused == "" && err != nil {
				t.Fatal(err)
			}
			if tt.refused != "" && (!errors.Is(err, ErrPushRefused) || !strings.Contains(err.Error(), tt.refused)) {
				t.Fatalf("got %v, want ErrPushRefused with %q", err, tt.refused)
			}
			if pushed.Serial != pushedSerial {
				t.Error("Push modified its argument")
			}
			got, err := New(b.Path(), nil).Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var addrs []string
			for a := range got.Resources {
				addrs = append(addrs, a)
			}
			if len(addrs) == 2 && addrs[0] > addrs[1] {
				addrs[0], addrs[1] = addrs[1], addrs[0]
			}
			if diff := cmp.Diff(tt.want, stored{got.Lineage, got.Serial, addrs}); diff != "" {
				t.Errorf("stored (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPushOverCorrupt(t *testing.T) {
	b := newBackend(t)
	os.MkdirAll(filepath.Dir(b.Path()), 0o700)
	os.WriteFile(b.Path(), []byte("not json"), 0o600)
	s := states.NewState("L")
	if err := b.Push(ctx, s, false); err == nil {
		t.Fatal("push over a corrupt file without force succeeded")
	}
	if err := b.Push(ctx, s, true); err != nil {
		t.Fatal(err)
	}
	if backup, _ := os.ReadFile(b.BackupPath()); string(backup) != "not json" {
		t.Errorf("backup %q, want the corrupt file", backup)
	}
}

func TestWriteThenPushThenWrite(t *testing.T) {
	// After a push, this backend's next Write goes on from the pushed serial.
	b := newBackend(t)
	s, _ := b.Read(ctx)
	b.Write(ctx, s)
	p := *s
	p.Serial = 5
	if err := b.Push(ctx, &p, false); err != nil {
		t.Fatal(err)
	}
	if err := b.Write(ctx, &p); err != nil || p.Serial != 6 {
		t.Fatalf("write after push: %v, serial %d", err, p.Serial)
	}
}
