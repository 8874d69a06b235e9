package resourcetest_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/resources/resourcetest"
	"github.com/mailplan/mailplan/resources/transport"
	"github.com/mailplan/mailplan/resources/transport/local"
)

func TestFaultsFailAt(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	tests := []struct {
		name      string
		mode      resourcetest.Mode
		wantExist bool
	}{
		{"before", resourcetest.Before, false},
		{"after", resourcetest.After, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(p)
			f := resourcetest.NewFaults()
			h := f.Host(local.New("here", nil))
			f.FailAt(2, tt.mode)
			if _, err := h.Stat(ctx, p); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("stat: %v, want not exist", err)
			}
			err := h.WriteFile(ctx, p, []byte("x"), transport.WriteOptions{Mode: 0o600, UID: -1, GID: -1})
			if !errors.Is(err, resourcetest.ErrInjected) {
				t.Fatalf("write: %v, want the injected failure", err)
			}
			if _, err := os.Stat(p); (err == nil) != tt.wantExist {
				t.Errorf("file exists: %v, want %v", err == nil, tt.wantExist)
			}
			if _, err := h.Run(ctx, []string{"true"}, transport.RunOptions{}); err != nil {
				t.Errorf("third operation: %v", err)
			}
			want := []string{"stat " + p, "write " + p, "run true"}
			if diff := cmp.Diff(want, f.Ops()); diff != "" {
				t.Errorf("ops (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"write " + p}, f.Writes()); diff != "" {
				t.Errorf("writes (-want +got):\n%s", diff)
			}
			if f.Failed() != "write "+p || f.Count() != 3 {
				t.Errorf("failed %q after %d operations", f.Failed(), f.Count())
			}
		})
	}
}

func TestFaultsCreateClose(t *testing.T) {
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "f")
	f := resourcetest.NewFaults()
	h := f.Host(local.New("here", nil))
	f.FailAt(2, resourcetest.Before)
	w, err := h.Create(ctx, p, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, "data"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); !errors.Is(err, resourcetest.ErrInjected) {
		t.Errorf("close: %v, want the injected failure", err)
	}
	if diff := cmp.Diff([]string{"create " + p, "close " + p}, f.Writes()); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
}

// plainHost is a host without the optional interfaces.
type plainHost struct{ transport.Host }

func TestFaultsOptionalInterfaces(t *testing.T) {
	f := resourcetest.NewFaults()
	h := f.Host(local.New("here", nil))
	if _, ok := h.(transport.FSStater); !ok {
		t.Error("the wrapper of a local host is no FSStater")
	}
	if _, ok := h.(transport.FSSyncer); !ok {
		t.Error("the wrapper of a local host is no FSSyncer")
	}
	p := f.Host(plainHost{local.New("here", nil)})
	if _, ok := p.(transport.FSStater); ok {
		t.Error("the wrapper of a plain host is an FSStater")
	}
	if _, ok := p.(transport.FSSyncer); ok {
		t.Error("the wrapper of a plain host is an FSSyncer")
	}
	if got := p.Name(); got != `host "here"` {
		t.Errorf("name %q", got)
	}
}

func TestJournalFailAt(t *testing.T) {
	ctx := context.Background()
	j := &resourcetest.Journal{FailAt: 2}
	var errs []error
	for _, e := range []string{"a", "b", "c"} {
		errs = append(errs, j.Record(ctx, []byte(e)))
	}
	if errs[0] != nil || !errors.Is(errs[1], resourcetest.ErrInjected) || errs[2] != nil {
		t.Errorf("errors %v, want only the second to fail", errs)
	}
	if diff := cmp.Diff([][]byte{[]byte("a"), []byte("c")}, j.Entries()); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if j.Calls() != 3 {
		t.Errorf("calls %d, want 3", j.Calls())
	}
}

// echoServer answers every DNS message over UDP and TCP with itself, QR
// set; it stands for the real server behind the proxy.
func echoServer(t *testing.T) (addr string, got func() int) {
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	uc, err := net.ListenPacket("udp", tl.Addr().String())
	if err != nil {
		t.Skipf("UDP port %s taken: %v", tl.Addr(), err)
	}
	t.Cleanup(func() { tl.Close(); uc.Close() })
	n := make(chan struct{}, 100)
	answer := func(m []byte) []byte {
		m = append([]byte(nil), m...)
		m[2] |= 0x80
		n <- struct{}{}
		return m
	}
	go func() {
		buf := make([]byte, 65535)
		for {
			k, from, err := uc.ReadFrom(buf)
			if err != nil {
				return
			}
			uc.WriteTo(answer(buf[:k]), from)
		}
	}()
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for {
					var l [2]byte
					if _, err := io.ReadFull(c, l[:]); err != nil {
						return
					}
					m := make([]byte, binary.BigEndian.Uint16(l[:]))
					if _, err := io.ReadFull(c, m); err != nil {
						return
					}
					a := answer(m)
					c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(a))), a...))
				}
			}()
		}
	}()
	return tl.Addr().String(), func() int { return len(n) }
}

// query is a DNS query for www.example.com. A with id 0x1234; with
// update, an UPDATE of zone example.com.
func query(update bool) []byte {
	m := []byte{0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}
	if update {
		m[2] = 5 << 3
	}
	m = append(m, 3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1)
	return m
}

func TestProxy(t *testing.T) {
	upstream, served := echoServer(t)
	f := resourcetest.NewFaults()
	addr := f.Proxy(t, upstream)

	udp := func() []byte {
		c, err := net.Dial("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(query(false)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 512)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return buf[:n]
	}
	tcp := func() ([]byte, error) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		q := query(true)
		if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(q))), q...)); err != nil {
			t.Fatal(err)
		}
		var l [2]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			return nil, err
		}
		m := make([]byte, binary.BigEndian.Uint16(l[:]))
		_, err = io.ReadFull(c, m)
		return m, err
	}

	f.Reset()
	if a := udp(); len(a) != len(query(false)) || a[2]&0x80 == 0 {
		t.Errorf("udp answer % x", a)
	}
	if a, err := tcp(); err != nil || a[2]&0x80 == 0 {
		t.Errorf("tcp answer % x, %v", a, err)
	}
	want := []string{"dns udp query www.example.com. A", "dns tcp update www.example.com."}
	if diff := cmp.Diff(want, f.Ops()); diff != "" {
		t.Errorf("ops (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want[1:], f.Writes()); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}

	for _, mode := range []resourcetest.Mode{resourcetest.Before, resourcetest.After} {
		t.Run(mode.String(), func(t *testing.T) {
			before := served()
			f.FailAt(1, mode)
			a := udp()
			if len(a) != 12 || a[0] != 0x12 || a[1] != 0x34 || a[3]&0xf != 2 || a[2]&0x80 == 0 {
				t.Errorf("failed udp answer % x, want a bare SERVFAIL", a)
			}
			f.FailAt(1, mode)
			if a, err := tcp(); err == nil {
				t.Errorf("failed tcp exchange answered % x", a)
			}
			if !f.FailedOnWire() {
				t.Error("FailedOnWire is false")
			}
			wantServed := 0
			if mode == resourcetest.After {
				wantServed = 2
			}
			// The echo server counts before it answers; give it a moment.
			time.Sleep(50 * time.Millisecond)
			if got := served() - before; got != wantServed {
				t.Errorf("server saw %d messages, want %d", got, wantServed)
			}
		})
	}
}

// keyFile is a minimal resource type for the suite's own test: one file
// on the local host, its content journalled before each write.
type keyFile struct {
	hosts transport.Getter
}

var keySchema = &resource.Schema{Attributes: map[string]*resource.Attribute{
	"path":    {Type: cty.String, Required: true, ShowUnchanged: true},
	"content": {Type: cty.String, Required: true},
}}

func (*keyFile) Name() string             { return "key_file" }
func (*keyFile) Schema() *resource.Schema { return keySchema }

type keySnap struct {
	Exists  bool   `json:"exists"`
	Content string `json:"content"`
}

var here = resource.Host{Name: "here", Transport: "local"}

func (k *keyFile) Read(ctx context.Context, req resource.ReadRequest) (resource.ReadResponse, error) {
	h, err := k.hosts.Get(ctx, here)
	if err != nil {
		return resource.ReadResponse{}, err
	}
	p := req.Config.GetAttr("path").AsString()
	data, err := h.ReadFile(ctx, p)
	if errors.Is(err, fs.ErrNotExist) {
		snap, _ := json.Marshal(keySnap{})
		return resource.ReadResponse{Current: cty.NullVal(keySchema.ImpliedType()), Snapshot: snap}, nil
	}
	if err != nil {
		return resource.ReadResponse{}, fmt.Errorf("read %s: %w", p, err)
	}
	snap, _ := json.Marshal(keySnap{Exists: true, Content: string(data)})
	return resource.ReadResponse{Current: cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal(p), "content": cty.StringVal(string(data))}), Snapshot: snap}, nil
}

func (*keyFile) Plan(ctx context.Context, req resource.PlanRequest) (resource.PlanResponse, error) {
	return resource.PlanResponse{Planned: req.Config}, nil
}

func (k *keyFile) Apply(ctx context.Context, req resource.ApplyRequest) (resource.ApplyResponse, error) {
	h, err := k.hosts.Get(ctx, here)
	if err != nil {
		return resource.ApplyResponse{}, err
	}
	p := req.Planned.GetAttr("path").AsString()
	tmp := p + ".tmp"
	if err := req.Journal.Record(ctx, []byte(tmp)); err != nil {
		return resource.ApplyResponse{}, err
	}
	if err := h.WriteFile(ctx, tmp, []byte(req.Planned.GetAttr("content").AsString()), transport.WriteOptions{Mode: 0o600, UID: -1, GID: -1}); err != nil {
		return resource.ApplyResponse{}, err
	}
	return resource.ApplyResponse{}, h.Rename(ctx, tmp, p)
}

func (k *keyFile) Restore(ctx context.Context, req resource.RestoreRequest) error {
	h, err := k.hosts.Get(ctx, here)
	if err != nil {
		return err
	}
	for i := len(req.Journal) - 1; i >= 0; i-- {
		if err := h.Remove(ctx, string(req.Journal[i])); err != nil {
			return err
		}
	}
	var s keySnap
	if err := json.Unmarshal(req.Snapshot, &s); err != nil {
		return err
	}
	p := req.Config.GetAttr("path").AsString()
	if !s.Exists {
		return h.Remove(ctx, p)
	}
	return h.WriteFile(ctx, p, []byte(s.Content), transport.WriteOptions{Mode: 0o600, UID: -1, GID: -1})
}

type localHosts struct{}

func (localHosts) Get(context.Context, resource.Host) (transport.Host, error) {
	return local.New("here", nil), nil
}

// observeDir lists dir: every file's name and content.
func observeDir(dir string) func(testing.TB) []byte {
	return func(t testing.TB) []byte {
		es, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []byte
		for _, e := range es {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out = fmt.Appendf(out, "%s: %q\n", e.Name(), b)
		}
		return out
	}
}

func TestConformance(t *testing.T) {
	for _, existing := range []bool{false, true} {
		t.Run(fmt.Sprintf("existing %v", existing), func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "key")
			if existing {
				if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			f := resourcetest.NewFaults()
			typ := &keyFile{hosts: f.Getter(localHosts{})}
			cfg := func(content string) cty.Value {
				return cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal(p), "content": cty.StringVal(content)})
			}
			resourcetest.Conformance(t, resourcetest.Suite{
				Type: typ, Create: cfg("one"), Update: cfg("two"), Observe: observeDir(dir), Faults: f,
				Modes: []resourcetest.Mode{resourcetest.Before, resourcetest.After},
			})
		})
	}
}
