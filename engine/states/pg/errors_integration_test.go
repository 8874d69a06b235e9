package pg

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mailplan/mailplan/engine/states"
)

// Each mistake in the configuration is one sentence naming the setting
// to fix, and never shows the password.
func testErrors(t *testing.T, srv *server) {
	p := srv.pg
	const pw = "s3cret-pw"
	for _, role := range []string{"nopriv", "usageonly"} {
		if err := p.CreateRole(ctx, role, pw); err != nil {
			t.Fatal(err)
		}
	}
	// A schema the owner made, on which usageonly may only look.
	owned := srv.open(t, "default")
	if err := p.Exec(ctx, srv.db, "GRANT USAGE ON SCHEMA "+owned.schema+" TO usageonly"); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := l.Addr().(*net.TCPAddr).Port
	l.Close()

	cases := []struct {
		name    string
		connStr string
		schema  string
		want    string
	}{
		{"wrong password", p.ConnStr("nopriv", "wrong-"+pw, srv.db), "",
			"password authentication failed for user nopriv: check conn_str or PGPASSWORD"},
		{"unreachable", fmt.Sprintf("postgres://nopriv:%s@127.0.0.1:%d/%s?connect_timeout=5", pw, closedPort, srv.db), "",
			fmt.Sprintf("cannot reach PostgreSQL at 127.0.0.1:%d (", closedPort)},
		{"no database", p.ConnStr("nopriv", pw, "nodb"), "",
			"database nodb does not exist on 127.0.0.1:"},
		{"no CREATE on the database", p.ConnStr("nopriv", pw, srv.db), "fresh",
			fmt.Sprintf("permission denied for database %s: user nopriv may not create schema fresh; grant CREATE on database %s to nopriv", srv.db, srv.db)},
		{"no USAGE on the schema", p.ConnStr("nopriv", pw, srv.db), owned.schema,
			fmt.Sprintf("permission denied for schema %s: grant USAGE on schema %s to nopriv (schema_name)", owned.schema, owned.schema)},
		{"no privileges on the tables", p.ConnStr("usageonly", pw, srv.db), owned.schema,
			fmt.Sprintf("permission denied for table %s.states: grant SELECT, INSERT, UPDATE, DELETE on it to usageonly", owned.schema)},
		{"invalid conn_str", "postgres://nopriv:" + pw + "@127.0.0.1:notaport/db", "",
			"invalid conn_str: "},
		{"invalid conn_str with a password", "host=127.0.0.1 password=" + pw + " port=notaport", "",
			"invalid conn_str: "},
		{"invalid schema_name", srv.connStr, "Bad-Name",
			`schema_name "Bad-Name" is not a plain lower-case SQL name`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			b, err := New(ctx, Config{ConnStr: c.connStr, SchemaName: c.schema}, "default", nil)
			if err == nil {
				b.Close()
				t.Fatal("New succeeded")
			}
			msg := err.Error()
			t.Logf("%v (in %v)", msg, time.Since(start).Round(time.Millisecond))
			if !strings.HasPrefix(msg, c.want) {
				t.Errorf("error %q\nwant it to start %q", msg, c.want)
			}
			if strings.Contains(msg, pw) || strings.Contains(msg, "\n") {
				t.Errorf("error %q shows the password or is not one line", msg)
			}
		})
	}
}

// Without a password in conn_str, libpq's PGPASSWORD (as ~/.pgpass)
// supplies it.
func testPasswordFromEnvironment(t *testing.T, srv *server) {
	const pw = "env-pw"
	if err := srv.pg.CreateRole(ctx, "fromenv", pw); err != nil {
		t.Fatal(err)
	}
	if err := srv.pg.Exec(ctx, srv.db, "GRANT CREATE ON DATABASE "+srv.db+" TO fromenv"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGPASSWORD", pw)
	b, err := New(ctx, Config{ConnStr: srv.pg.ConnStr("fromenv", "", srv.db), SchemaName: "fromenv"}, "default", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.Read(ctx); err != nil {
		t.Fatal(err)
	}
}

// Runs starting at once on an empty database make the tables once, and
// all work.
func testConcurrentFirstUse(t *testing.T, srv *server) {
	schema := srv.schema(t)
	const n = 8
	errs := make([]error, n)
	backends := make([]*Backend, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			backends[i], errs[i] = New(ctx, Config{ConnStr: srv.connStr, SchemaName: schema}, "default", nil)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("run %d: %v", i, errs[i])
		}
		defer backends[i].Close()
	}
	for _, b := range backends {
		if _, err := b.Read(ctx); err != nil {
			t.Fatal(err)
		}
	}
	c, err := pgx.Connect(ctx, srv.connStr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var count int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = $1", schema).Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != len(tables) {
		t.Errorf("%d tables in schema %s, want %d", count, schema, len(tables))
	}
}

func testDescribe(t *testing.T, srv *server) {
	b := srv.open(t, "staging")
	d := b.Describe()
	want := fmt.Sprintf(`pg "host=127.0.0.1 port=%d dbname=%s user=`, srv.pg.Port, srv.db)
	if !strings.HasPrefix(d, want) || !strings.HasSuffix(d, fmt.Sprintf(`" schema %s, workspace staging`, srv.schema(t))) {
		t.Errorf("Describe() = %q", d)
	}
	if strings.Contains(d, "password") {
		t.Errorf("Describe() = %q shows the password", d)
	}
}

// testTimings logs what the backend costs: an Append (one committed
// INSERT), and Read and Write of a state of 1000 resources.
func testTimings(t *testing.T, srv *server) {
	b := srv.open(t, "default")
	u, err := b.Lock(ctx, states.LockInfo{Operation: "apply"})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Unlock()
	s, err := b.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const resources = 1000
	for i := range resources {
		addr := fmt.Sprintf("file.f%d", i)
		s.Resources[addr] = &states.Resource{Addr: addr, Type: "file",
			Config:   json.RawMessage(fmt.Sprintf(`{"path":"/etc/postfix/f%d","content":"%s"}`, i, strings.Repeat("x", 200))),
			Result:   json.RawMessage(fmt.Sprintf(`{"path":"/etc/postfix/f%d","mode":"0644"}`, i)),
			Original: []byte(strings.Repeat("o", 200))}
	}
	start := time.Now()
	if err := b.Write(ctx, s); err != nil {
		t.Fatal(err)
	}
	first := time.Since(start)
	start = time.Now()
	const rounds = 5
	for range rounds {
		if err := b.Write(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	write := time.Since(start) / rounds
	start = time.Now()
	for range rounds {
		if _, err := b.Read(ctx); err != nil {
			t.Fatal(err)
		}
	}
	read := time.Since(start) / rounds
	const appends = 200
	start = time.Now()
	for i := range appends {
		rec := &states.Record{Lineage: s.Lineage, Serial: s.Serial, Op: states.OpStatus, Status: fmt.Sprint(i)}
		if i == 0 {
			rec = &states.Record{Lineage: s.Lineage, Serial: s.Serial, Op: states.OpBegin, Apply: &states.Apply{ID: "timing", Changes: []*states.Change{}}}
		}
		if err := b.Append(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	appendTime := time.Since(start) / appends
	start = time.Now()
	if _, err := b.Read(ctx); err != nil {
		t.Fatal(err)
	}
	readJournal := time.Since(start)
	raw, _ := b.ReadRaw(ctx)
	t.Logf("state of %d resources (%d KiB): first Write %v, Write %v, Read %v; Append %v each (%d appends); Read replaying %d records %v",
		resources, len(raw)/1024, first.Round(time.Microsecond), write.Round(time.Microsecond), read.Round(time.Microsecond),
		appendTime.Round(time.Microsecond), appends, appends, readJournal.Round(time.Microsecond))
}
