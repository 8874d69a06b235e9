package testbed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresSuperuser is the name of the superuser of the test bed's
// clusters.
const PostgresSuperuser = "mailplan_admin"

// PostgresServer is a PostgreSQL cluster the test bed made and started:
// its own data directory, listening on Addr:Port with password (SCRAM)
// authentication and on a unix socket in Dir. It never touches the
// system's cluster.
type PostgresServer struct {
	// Addr and Port are where it listens (TCP).
	Addr string
	Port int
	// Dir holds everything: the data directory, the socket and the log.
	Dir string
	// DataDir is the cluster's data directory (initdb -D).
	DataDir string
	// LogPath is the server's output.
	LogPath string
	// Password is PostgresSuperuser's password.
	Password string

	bin       string // /usr/lib/postgresql/VERSION/bin
	cred      *syscall.Credential
	pid       int
	exited    chan struct{}
	waitErr   error
	closeOnce sync.Once
	closeErr  error
	seq       int
	mu        sync.Mutex
}

// postgresBinDir returns the bin directory of the newest PostgreSQL that
// Debian's packages installed (/usr/lib/postgresql/VERSION/bin), with
// initdb and postgres in it.
func postgresBinDir() (string, error) {
	entries, err := os.ReadDir("/usr/lib/postgresql")
	if err != nil {
		return "", err
	}
	var versions []float64
	byVersion := map[float64]string{}
	for _, e := range entries {
		v, err := strconv.ParseFloat(e.Name(), 64)
		if err != nil {
			continue
		}
		bin := filepath.Join("/usr/lib/postgresql", e.Name(), "bin")
		if isExecutable(filepath.Join(bin, "initdb")) && isExecutable(filepath.Join(bin, "postgres")) {
			versions = append(versions, v)
			byVersion[v] = bin
		}
	}
	if len(versions) == 0 {
		return "", errors.New("no /usr/lib/postgresql/VERSION/bin with initdb and postgres")
	}
	sort.Float64s(versions)
	return byVersion[versions[len(versions)-1]], nil
}

// postgresUser returns the credential the server runs with: none when
// this process is not root, else the postgres system user (Debian's
// postgresql package makes it) or nobody. PostgreSQL refuses to run as
// root.
func postgresUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 == nil && err2 == nil {
			return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
		}
	}
	return nil, errors.New("neither the postgres nor the nobody user exists")
}

// CheckPostgresAvailable reports what this machine lacks to run
// StartPostgres: PostgreSQL's initdb and postgres (Debian's postgresql
// package), and, as root, a user to run them as. Its error matches
// ErrUnavailable; nil means all are there.
func CheckPostgresAvailable() error {
	var missing []string
	if _, err := postgresBinDir(); err != nil {
		missing = append(missing, "initdb and postgres in /usr/lib/postgresql/VERSION/bin (postgresql)")
	}
	if _, err := postgresUser(); err != nil {
		missing = append(missing, "a user other than root to run PostgreSQL as (postgres or nobody)")
	}
	return lacking("the PostgreSQL test bed", missing)
}

// Postgres starts a PostgreSQL cluster for the test (see StartPostgres);
// it is stopped and its directory removed when the test ends, its log
// shown when the test failed. Without PostgreSQL the test is skipped, or
// fails when Strict.
func Postgres(t testing.TB) *PostgresServer {
	t.Helper()
	p, err := StartPostgres(SearchableTempDir(t))
	if err != nil {
		skipOrFatal(t, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("postgres log (%s):\n%s", p.LogPath, TailFile(p.LogPath, 60))
		}
		if err := p.Close(); err != nil {
			t.Errorf("postgres: %v", err)
		}
	})
	return p
}

// StartPostgres makes a cluster in dir (initdb, owned by the postgres
// user when this process is root) and starts postgres in its own session
// on 127.0.0.1 and a free port, with the unix socket in dir, returning
// once the superuser can connect and run a query. Close stops it (by
// PID) and removes dir. Its error matches ErrUnavailable when PostgreSQL
// is not installed.
func StartPostgres(dir string) (*PostgresServer, error) {
	if err := CheckPostgresAvailable(); err != nil {
		return nil, err
	}
	bin, _ := postgresBinDir()
	cred, _ := postgresUser()
	if cred != nil {
		if err := reachableDir(dir, "the postgres user"); err != nil {
			return nil, fmt.Errorf("postgres test bed: %w", err)
		}
	}
	pw := make([]byte, 16)
	rand.Read(pw)
	p := &PostgresServer{
		Addr:     "127.0.0.1",
		Dir:      dir,
		DataDir:  filepath.Join(dir, "data"),
		LogPath:  filepath.Join(dir, "postgres.log"),
		Password: hex.EncodeToString(pw),
		bin:      bin,
		cred:     cred,
		exited:   make(chan struct{}),
	}
	close(p.exited) // nothing to wait for until postgres starts
	if err := p.initdb(); err != nil {
		return nil, errors.Join(fmt.Errorf("postgres test bed: %w", err), p.Close())
	}
	err := onFreePort(freePort, func(port int) (bool, error) {
		p.Port = port
		return p.start()
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("start postgres: %w", err), p.Close())
	}
	return p, nil
}

// command returns name (a program of bin) run as the server's user.
func (p *PostgresServer) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	cmd.Dir = p.Dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C", "LC_ALL=C", "TZ=UTC", "HOME=" + p.Dir}
	// Its own session: a terminal's ^C reaches the test, which stops it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: p.cred}
	return cmd
}

// chown gives path to the server's user.
func (p *PostgresServer) chown(path string) error {
	if p.cred == nil {
		return nil
	}
	return os.Chown(path, int(p.cred.Uid), int(p.cred.Gid))
}

// initdb makes the cluster: the superuser PostgresSuperuser with
// Password, SCRAM authentication for every connection (local ones too).
func (p *PostgresServer) initdb() error {
	if err := p.chown(p.Dir); err != nil {
		return err
	}
	pwfile := filepath.Join(p.Dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(p.Password+"\n"), 0o600); err != nil {
		return err
	}
	if err := p.chown(pwfile); err != nil {
		return err
	}
	defer os.Remove(pwfile)
	out, err := p.command("initdb", "-D", p.DataDir, "-U", PostgresSuperuser, "--pwfile", pwfile,
		"--auth=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions").CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	return nil
}

// start starts postgres in the foreground of its own session and waits
// until the superuser can run a query. retry is true when the port was
// taken.
func (p *PostgresServer) start() (retry bool, err error) {
	logf, err := os.OpenFile(p.LogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return false, err
	}
	defer logf.Close()
	logStart, _ := logf.Seek(0, 2)
	// A unix socket's path is limited to 107 bytes; a longer test
	// directory gets TCP alone.
	sockDir := p.Dir
	if len(sockDir)+len("/.s.PGSQL.65535") > 100 {
		sockDir = ""
	}
	cmd := p.command("postgres", "-D", p.DataDir, "-p", strconv.Itoa(p.Port),
		"-c", "listen_addresses="+p.Addr, "-c", "unix_socket_directories="+sockDir,
		"-c", "logging_collector=off", "-c", "max_connections=200", "-c", "log_min_messages=warning")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("start postgres: %w", err)
	}
	exited := make(chan struct{})
	p.pid = cmd.Process.Pid
	p.exited = exited
	go func() {
		p.waitErr = cmd.Wait()
		close(exited)
	}()
	logSince := func() string {
		b, _ := os.ReadFile(p.LogPath)
		if int(logStart) <= len(b) {
			b = b[logStart:]
		}
		return string(b)
	}
	portTaken := func(log string) bool { return strings.Contains(log, "could not bind") }
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := p.ping(ctx)
		cancel()
		if err == nil {
			return false, nil
		}
		select {
		case <-exited:
			log := logSince()
			return portTaken(log), fmt.Errorf("postgres exited (%v); its log:\n%s", p.waitErr, log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return false, errors.Join(fmt.Errorf("postgres not serving on %s:%d: %v; its log:\n%s", p.Addr, p.Port, err, logSince()), p.stop())
		}
	}
}

// ping connects as the superuser and runs a query: the positive marker
// that the server serves.
func (p *PostgresServer) ping(ctx context.Context) error {
	c, err := pgx.Connect(ctx, p.SuperuserConnStr("postgres"))
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	var one int
	return c.QueryRow(ctx, "SELECT 1").Scan(&one)
}

// stop sends the postmaster SIGINT (a fast shutdown: sessions are ended)
// by its PID and waits until it has exited; after 10 seconds it sends
// SIGKILL.
func (p *PostgresServer) stop() error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	_ = syscall.Kill(p.pid, syscall.SIGINT)
	select {
	case <-p.exited:
		return nil
	case <-time.After(10 * time.Second):
	}
	_ = syscall.Kill(p.pid, syscall.SIGKILL)
	<-p.exited
	return fmt.Errorf("postgres %d did not exit on SIGINT within 10s; killed", p.pid)
}

// Close stops the server and removes its directory. Calling it again does
// nothing and returns the same error.
func (p *PostgresServer) Close() error {
	p.closeOnce.Do(func() {
		p.closeErr = errors.Join(p.stop(), os.RemoveAll(p.Dir))
	})
	return p.closeErr
}

// ConnStr returns a URL connection string for user with password (none
// when ""), to database dbname over TCP.
func (p *PostgresServer) ConnStr(user, password, dbname string) string {
	u := url.URL{Scheme: "postgres", Host: fmt.Sprintf("%s:%d", p.Addr, p.Port), Path: "/" + dbname, RawQuery: "sslmode=disable"}
	if password != "" {
		u.User = url.UserPassword(user, password)
	} else {
		u.User = url.User(user)
	}
	return u.String()
}

// SuperuserConnStr is ConnStr for PostgresSuperuser.
func (p *PostgresServer) SuperuserConnStr(dbname string) string {
	return p.ConnStr(PostgresSuperuser, p.Password, dbname)
}

// Exec runs sql as the superuser in database dbname.
func (p *PostgresServer) Exec(ctx context.Context, dbname, sql string, args ...any) error {
	c, err := pgx.Connect(ctx, p.SuperuserConnStr(dbname))
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// CreateRole makes a login role with password that may do nothing more:
// not create databases, roles or schemas (until granted).
func (p *PostgresServer) CreateRole(ctx context.Context, name, password string) error {
	return p.Exec(ctx, "postgres", fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD %s NOSUPERUSER NOCREATEDB NOCREATEROLE",
		pgx.Identifier{name}.Sanitize(), quoteLiteral(password)))
}

// CreateDatabase makes a new database owned by owner (the superuser when
// ""), named prefix followed by a number unique in this server.
func (p *PostgresServer) CreateDatabase(ctx context.Context, prefix, owner string) (string, error) {
	p.mu.Lock()
	p.seq++
	name := fmt.Sprintf("%s%d", prefix, p.seq)
	p.mu.Unlock()
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if owner != "" {
		sql += " OWNER " + pgx.Identifier{owner}.Sanitize()
	}
	return name, p.Exec(ctx, "postgres", sql)
}

// Database is CreateDatabase for a test, with a role of its own: it
// returns the database's name and a connection string of its owner, a
// role that has a password and no other privilege.
func (p *PostgresServer) Database(t testing.TB) (dbname, connStr string) {
	t.Helper()
	ctx := context.Background()
	p.mu.Lock()
	p.seq++
	role := fmt.Sprintf("owner%d", p.seq)
	p.mu.Unlock()
	pw := make([]byte, 12)
	rand.Read(pw)
	password := hex.EncodeToString(pw)
	if err := p.CreateRole(ctx, role, password); err != nil {
		t.Fatal(err)
	}
	dbname, err := p.CreateDatabase(ctx, "db", role)
	if err != nil {
		t.Fatal(err)
	}
	return dbname, p.ConnStr(role, password, dbname)
}

// quoteLiteral quotes s as an SQL string literal.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
