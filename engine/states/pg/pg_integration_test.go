package pg

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mailplan/mailplan/engine/states"
	"github.com/mailplan/mailplan/engine/states/statetest"
	"github.com/mailplan/mailplan/resources/testbed"
)

var ctx = context.Background()

// The environment of a re-executed test binary: what it does (see
// child), and where.
const (
	childEnv  = "MAILPLAN_PG_TEST_CHILD"
	connEnv   = "MAILPLAN_PG_TEST_CONN"
	schemaEnv = "MAILPLAN_PG_TEST_SCHEMA"
	idEnv     = "MAILPLAN_PG_TEST_ID"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(child(mode))
	}
	os.Exit(m.Run())
}

// child is the re-executed test binary: "append" appends a begin record
// to the state it reads, "lock" takes the lock with ID $MAILPLAN_PG_TEST_ID;
// each then says so on stdout and waits to be killed. "contend" takes the
// lock 20 times (retrying while another holds it) and each time adds a
// resource named after its ID and writes.
func child(mode string) int {
	b, err := New(ctx, Config{ConnStr: os.Getenv(connEnv), SchemaName: os.Getenv(schemaEnv)}, "default", nil)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	id := os.Getenv(idEnv)
	switch mode {
	case "append":
		s, err := b.Read(ctx)
		if err == nil {
			err = b.Append(ctx, &states.Record{Lineage: s.Lineage, Serial: s.Serial, Op: states.OpBegin,
				Apply: &states.Apply{ID: id, Operation: states.OperationApply, Status: states.StatusRunning, Changes: []*states.Change{}}})
		}
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		fmt.Println("appended")
	case "lock":
		if _, err := b.Lock(ctx, states.LockInfo{ID: id, Operation: "apply"}); err != nil {
			fmt.Println("error:", err)
			return 1
		}
		fmt.Println("locked")
	case "contend":
		for i := range 20 {
			if err := contendOnce(b, fmt.Sprintf("file.%s_%d", id, i)); err != nil {
				fmt.Println("error:", err)
				return 1
			}
		}
		fmt.Println("done")
		return 0
	}
	io.Copy(io.Discard, os.Stdin) // until killed
	return 0
}

func contendOnce(b *Backend, addr string) error {
	var u states.Unlocker
	for {
		var err error
		u, err = b.Lock(ctx, states.LockInfo{Operation: "apply"})
		if err == nil {
			break
		}
		var le *states.LockedError
		if !errors.As(err, &le) {
			return err
		}
		time.Sleep(time.Millisecond)
	}
	defer u.Unlock()
	s, err := b.Read(ctx)
	if err != nil {
		return err
	}
	s.Resources[addr] = &states.Resource{Addr: addr, Type: "file"}
	return b.Write(ctx, s)
}

// server is the cluster of one top-level test, a database and its
// owner's connection string.
type server struct {
	pg      *testbed.PostgresServer
	db      string
	connStr string

	mu      sync.Mutex
	schemas map[*testing.T]string
}

func newServer(t *testing.T) *server {
	p := testbed.Postgres(t)
	db, connStr := p.Database(t)
	return &server{pg: p, db: db, connStr: connStr, schemas: map[*testing.T]string{}}
}

// schema returns test t's schema name, a new one on the first call.
func (s *server) schema(t *testing.T) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name, ok := s.schemas[t]; ok {
		return name
	}
	name := fmt.Sprintf("s%d", len(s.schemas)+1)
	s.schemas[t] = name
	return name
}

// open returns a Backend on t's schema, closed when t ends.
func (s *server) open(t *testing.T, workspace string) *Backend {
	t.Helper()
	b, err := New(ctx, Config{ConnStr: s.connStr, SchemaName: s.schema(t)}, workspace, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// start runs the test binary as a child (see child) on t's schema, and
// waits for its first line of output, want.
func (s *server) start(t *testing.T, mode, id, want string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, connEnv+"="+s.connStr, schemaEnv+"="+s.schema(t), idEnv+"="+id)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != want+"\n" {
		t.Fatalf("child %s said %q, %v", mode, line, err)
	}
	return cmd
}

// kill SIGKILLs the child and reaps it.
func kill(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
}

// TestPG runs the backends' conformance suite and the pg backend's own
// tests on a PostgreSQL cluster of its own (the test bed's), each in a
// schema of its own.
func TestPG(t *testing.T) {
	srv := newServer(t)
	t.Run("Suite", func(t *testing.T) {
		statetest.Run(t, func(t *testing.T, workspace string) statetest.Backend { return srv.open(t, workspace) })
	})
	t.Run("JournalDurableAcrossProcesses", func(t *testing.T) { testJournalDurable(t, srv) })
	t.Run("LockReleasedWhenHolderKilled", func(t *testing.T) { testLockHolderKilled(t, srv) })
	t.Run("TwoProcessesContend", func(t *testing.T) { testContend(t, srv) })
	t.Run("ForceUnlock", func(t *testing.T) { testForceUnlock(t, srv) })
	t.Run("LockLostInProcess", func(t *testing.T) { testLockLost(t, srv) })
	t.Run("Errors", func(t *testing.T) { testErrors(t, srv) })
	t.Run("PasswordFromEnvironment", func(t *testing.T) { testPasswordFromEnvironment(t, srv) })
	t.Run("ConcurrentFirstUse", func(t *testing.T) { testConcurrentFirstUse(t, srv) })
	t.Run("Describe", func(t *testing.T) { testDescribe(t, srv) })
	t.Run("Timings", func(t *testing.T) { testTimings(t, srv) })
	t.Run("IndentedRow", func(t *testing.T) { testIndentedRow(t, srv) })
}

// A record is committed when Append returns: a run killed right after
// (before it could write the state) leaves it for the next Read.
func testJournalDurable(t *testing.T, srv *server) {
	b := srv.open(t, "default")
	s, err := b.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	kill(t, srv.start(t, "append", "run-killed", "appended"))
	got, err := srv.open(t, "default").Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastApply == nil || got.LastApply.ID != "run-killed" || got.LastApply.Status != states.StatusRunning {
		t.Fatalf("after the appending run was killed, Read has LastApply %+v", got.LastApply)
	}
}

// The server ends a killed holder's session, and with it the lock.
func testLockHolderKilled(t *testing.T, srv *server) {
	cmd := srv.start(t, "lock", "held-by-child", "locked")
	b := srv.open(t, "default")
	_, err := b.Lock(ctx, states.LockInfo{Operation: "plan"})
	var le *states.LockedError
	if !errors.As(err, &le) || le.Holder.ID != "held-by-child" || le.Holder.PID != cmd.Process.Pid {
		t.Fatalf("Lock while the child holds it: %v (holder %+v), want the child's pid %d", err, le, cmd.Process.Pid)
	}
	if want := "pg schema " + srv.schema(t) + " workspace default"; le.Path != want || !strings.HasSuffix(err.Error(), "; lock ID held-by-child, "+want) {
		t.Errorf("LockedError %q, path %q; want the path %q", err, le.Path, want)
	}
	kill(t, cmd)
	// The server notices the closed socket at once; allow it a moment.
	deadline := time.Now().Add(10 * time.Second)
	for {
		u, err := b.Lock(ctx, states.LockInfo{Operation: "plan"})
		if err == nil {
			u.Unlock()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Lock 10s after the holder was killed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Two processes taking turns with the lock lose no write.
func testContend(t *testing.T, srv *server) {
	b := srv.open(t, "default") // makes the tables
	var cmds []*exec.Cmd
	outs := make([]*strings.Builder, 2)
	for i := range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=contend", connEnv+"="+srv.connStr, schemaEnv+"="+srv.schema(t), idEnv+"="+fmt.Sprint("p", i))
		outs[i] = &strings.Builder{}
		cmd.Stdout, cmd.Stderr = outs[i], outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil || outs[i].String() != "done\n" {
			t.Errorf("process %d: %v: %s", i, err, outs[i])
		}
	}
	s, err := b.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Resources) != 40 || s.Serial != 40 {
		t.Errorf("after 2×20 locked writes: %d resources, serial %d; want 40, 40", len(s.Resources), s.Serial)
	}
}

func testForceUnlock(t *testing.T, srv *server) {
	b := srv.open(t, "default")
	if err := b.ForceUnlock(ctx, "x"); err == nil || !strings.Contains(err.Error(), "is not locked") {
		t.Errorf("ForceUnlock without a holder: %v", err)
	}
	cmd := srv.start(t, "lock", "stuck-run", "locked")
	err := b.ForceUnlock(ctx, "another-id")
	if err == nil || !strings.Contains(err.Error(), "lock ID stuck-run, not another-id") || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", cmd.Process.Pid)) {
		t.Errorf("ForceUnlock with another ID: %v", err)
	}
	if err := b.ForceUnlock(ctx, "stuck-run"); err != nil {
		t.Fatal(err)
	}
	u, err := b.Lock(ctx, states.LockInfo{Operation: "apply"})
	if err != nil {
		t.Fatalf("Lock after ForceUnlock: %v", err)
	}
	defer u.Unlock()
	// The child is alive, its lock session ended.
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("ForceUnlock killed the holder's process: %v", err)
	}
}

// A run whose lock was force-unlocked writes nothing more.
func testLockLost(t *testing.T, srv *server) {
	holder, admin := srv.open(t, "default"), srv.open(t, "default")
	u, err := holder.Lock(ctx, states.LockInfo{ID: "lost-run", Operation: "apply"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := holder.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.ForceUnlock(ctx, "lost-run"); err != nil {
		t.Fatal(err)
	}
	err = holder.Append(ctx, &states.Record{Lineage: s.Lineage, Op: states.OpBegin, Apply: &states.Apply{ID: "x"}})
	if !errors.Is(err, ErrLockLost) {
		t.Errorf("Append after force-unlock: %v, want ErrLockLost", err)
	}
	if err := holder.Write(ctx, s); !errors.Is(err, ErrLockLost) {
		t.Errorf("Write after force-unlock: %v, want ErrLockLost", err)
	}
	if err := u.Unlock(); !errors.Is(err, ErrLockLost) {
		t.Errorf("Unlock after force-unlock: %v, want ErrLockLost", err)
	}
	// Unlocked, the Backend works through the pool again.
	if _, err := holder.Read(ctx); err != nil {
		t.Errorf("Read after Unlock: %v", err)
	}
	got, err := admin.Read(ctx)
	if err != nil || got.LastApply != nil {
		t.Errorf("the lost run's record was stored: %+v, %v", got, err)
	}
}
