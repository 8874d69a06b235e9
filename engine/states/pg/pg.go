package pg

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mailplan/mailplan/engine/states"
)

// Config says which database and schema hold the state.
type Config struct {
	// ConnStr is a libpq connection string ("host=… dbname=…" or a
	// postgres:// URL); "" uses libpq's defaults: the PG* environment
	// variables and ~/.pgpass.
	ConnStr string
	// SchemaName is the schema of mailplan's tables; "" is "mailplan".
	SchemaName string
}

// DefaultSchema is the schema used when Config.SchemaName is "".
const DefaultSchema = "mailplan"

var (
	_ states.Backend       = (*Backend)(nil)
	_ states.Journaler     = (*Backend)(nil)
	_ states.DigestKeyer   = (*Backend)(nil)
	_ states.Historian     = (*Backend)(nil)
	_ states.Workspacer    = (*Backend)(nil)
	_ states.ForceUnlocker = (*Backend)(nil)
)

// ErrLockLost is wrapped by the error of a read or write made while this
// Backend holds the lock when the lock's session has ended since: someone
// ran force-unlock, or the server restarted. Another run may hold the
// lock now, so nothing more may be written.
var ErrLockLost = errors.New("the state lock was lost")

// Backend stores the states of one schema's workspaces and works on one of
// them. It is safe for concurrent use by the goroutines of one process;
// across processes, hold the lock.
type Backend struct {
	pool      *pgxpool.Pool
	connCfg   *pgx.ConnConfig // for lock sessions
	schema    string
	workspace string
	logger    hclog.Logger
	q         queries
	desc      string

	mu sync.Mutex
	// seen is the lineage and serial last read or written, nil before the
	// first Read. Write refuses when the row no longer matches it.
	seen *mark
	// held is the lock this Backend holds, nil when none.
	held *lock
}

type mark struct {
	lineage string
	serial  uint64
	exists  bool
}

var schemaRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// New checks cfg, connects and makes the schema's tables when they are
// missing. Its errors are one sentence naming the setting to fix (a wrong
// password, a server it cannot reach, a privilege the role lacks, an
// invalid conn_str) and never hold the password. A nil logger logs
// nothing.
func New(ctx context.Context, cfg Config, workspace string, logger hclog.Logger) (*Backend, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	schema := cfg.SchemaName
	if schema == "" {
		schema = DefaultSchema
	}
	if !schemaRE.MatchString(schema) {
		return nil, fmt.Errorf("schema_name %q is not a plain lower-case SQL name (a letter or _, then letters, digits or _, at most 63 in all)", schema)
	}
	if workspace == "" || !utf8.ValidString(workspace) || strings.ContainsRune(workspace, 0) {
		return nil, fmt.Errorf("workspace name %q is empty or not text", workspace)
	}
	pcfg, err := pgxpool.ParseConfig(cfg.ConnStr)
	if err != nil {
		return nil, parseError(cfg.ConnStr, err)
	}
	cc := pcfg.ConnConfig
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = 15 * time.Second
	}
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	if cc.RuntimeParams["application_name"] == "" {
		cc.RuntimeParams["application_name"] = "mailplan"
	}
	// A journal record is durable when Append returns: never let a
	// server or role default of synchronous_commit=off say otherwise.
	cc.RuntimeParams["synchronous_commit"] = "on"
	pcfg.MaxConnIdleTime = time.Minute

	b := &Backend{
		connCfg:   cc.Copy(),
		schema:    schema,
		workspace: workspace,
		logger:    logger,
		q:         newQueries(pgx.Identifier{schema}.Sanitize()),
	}
	b.desc = describe(cc, schema, workspace)
	b.pool, err = pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, b.connectError(err)
	}
	if err := b.pool.Ping(ctx); err != nil {
		b.pool.Close()
		return nil, b.connectError(err)
	}
	if err := b.setup(ctx); err != nil {
		b.pool.Close()
		return nil, err
	}
	logger.Debug("connected to the state database", "backend", b.desc)
	return b, nil
}

// Close releases a lock still held and closes the connections.
func (b *Backend) Close() error {
	b.mu.Lock()
	l := b.held
	b.mu.Unlock()
	var err error
	if l != nil {
		err = l.Unlock()
	}
	b.pool.Close()
	return err
}

// Describe names the database, schema and workspace for messages, e.g.
// `pg "host=127.0.0.1 port=5432 dbname=x user=y" schema mailplan,
// workspace default`. It never holds the password.
func (b *Backend) Describe() string { return b.desc }

// Workspace is the workspace this Backend works on.
func (b *Backend) Workspace() string { return b.workspace }

func describe(cc *pgx.ConnConfig, schema, workspace string) string {
	return fmt.Sprintf("pg %q schema %s, workspace %s",
		fmt.Sprintf("host=%s port=%d dbname=%s user=%s", cc.Host, cc.Port, cc.Database, cc.User), schema, workspace)
}

// where says where the workspace's lock is, for states.LockedError.
func (b *Backend) where() string {
	return "pg schema " + b.schema + " workspace " + b.workspace
}

// lockKey is the advisory lock key of a workspace of schema.
func lockKey(schema, workspace string) int64 {
	return hashKey("mailplan lock\x00" + schema + "\x00" + workspace)
}

func hashKey(s string) int64 {
	h := sha256.Sum256([]byte(s))
	return int64(binary.BigEndian.Uint64(h[:8]))
}

// queries are the SQL statements, with the schema's name in them.
type queries struct {
	states, journal, locks, digestKey, history string
}

func newQueries(schema string) queries {
	return queries{
		states:    schema + ".states",
		journal:   schema + ".journal",
		locks:     schema + ".locks",
		digestKey: schema + ".digest_key",
		history:   schema + ".history",
	}
}

// tables are the schema's tables, in the order they are made, and the
// privileges a run needs on each.
var tables = []struct{ name, ddl, privileges string }{
	{"states", `CREATE TABLE %s.states (
	workspace text PRIMARY KEY,
	lineage text NOT NULL,
	serial bigint NOT NULL,
	state json NOT NULL,
	previous json,
	updated timestamptz NOT NULL DEFAULT now())`, "SELECT, INSERT, UPDATE, DELETE"},
	{"journal", `CREATE TABLE %s.journal (
	seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	workspace text NOT NULL,
	record json NOT NULL,
	appended timestamptz NOT NULL DEFAULT now());
CREATE INDEX ON %[1]s.journal (workspace, seq)`, "SELECT, INSERT, DELETE"},
	{"locks", `CREATE TABLE %s.locks (
	workspace text PRIMARY KEY,
	id text NOT NULL,
	info json NOT NULL,
	backend_pid integer NOT NULL)`, "SELECT, INSERT, UPDATE, DELETE"},
	{"digest_key", `CREATE TABLE %s.digest_key (
	id integer PRIMARY KEY CHECK (id = 1),
	key bytea NOT NULL,
	created timestamptz NOT NULL DEFAULT now())`, "SELECT, INSERT"},
	{"history", `CREATE TABLE %s.history (
	id text PRIMARY KEY,
	workspace text NOT NULL,
	started timestamptz NOT NULL,
	entry json NOT NULL)`, "SELECT, INSERT, UPDATE"},
}

// setup makes the schema and the tables that are missing, then checks the
// role's privileges on them, so that a missing grant shows now, as one
// sentence, rather than half way through an apply.
func (b *Backend) setup(ctx context.Context) error {
	missing, _, err := b.missingTables(ctx, b.pool)
	if err != nil {
		return b.sqlError("look up the tables", err)
	}
	if len(missing) > 0 {
		if err := b.createTables(ctx); err != nil {
			return err
		}
	}
	return b.checkPrivileges(ctx)
}

type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
}

// missingTables lists the tables that are not there yet.
func (b *Backend) missingTables(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (missing []string, schemaExists bool, err error) {
	var have []string
	err = q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1),
	coalesce((SELECT array_agg(tablename::text) FROM pg_tables WHERE schemaname = $1), '{}')`, b.schema).Scan(&schemaExists, &have)
	if err != nil {
		return nil, false, err
	}
	for _, t := range tables {
		found := false
		for _, h := range have {
			found = found || h == t.name
		}
		if !found {
			missing = append(missing, t.name)
		}
	}
	return missing, schemaExists, nil
}

// createTables makes what is missing in one transaction, under an
// advisory lock, so that runs starting at once make each table once.
func (b *Backend) createTables(ctx context.Context) error {
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		return b.connectError(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", hashKey("mailplan setup\x00"+b.schema)); err != nil {
		return b.sqlError("lock the schema's setup", err)
	}
	missing, schemaExists, err := b.missingTables(ctx, tx)
	if err != nil {
		return b.sqlError("look up the tables", err)
	}
	if len(missing) == 0 {
		return nil
	}
	quoted := pgx.Identifier{b.schema}.Sanitize()
	if !schemaExists {
		if _, err := tx.Exec(ctx, "CREATE SCHEMA "+quoted); err != nil {
			if isPermission(err) {
				return fmt.Errorf("permission denied for database %s: user %s may not create schema %s; grant CREATE on database %s to %s, or have an administrator create schema %s and grant %s USAGE and CREATE on it (schema_name)",
					b.connCfg.Database, b.connCfg.User, b.schema, b.connCfg.Database, b.connCfg.User, b.schema, b.connCfg.User)
			}
			return b.sqlError("create schema "+b.schema, err)
		}
	}
	for _, t := range tables {
		for _, m := range missing {
			if m != t.name {
				continue
			}
			if _, err := tx.Exec(ctx, fmt.Sprintf(t.ddl, quoted)); err != nil {
				if isPermission(err) {
					return fmt.Errorf("permission denied for schema %s: user %s may not create mailplan's tables in it; grant USAGE and CREATE on schema %s to %s, or choose another schema_name",
						b.schema, b.connCfg.User, b.schema, b.connCfg.User)
				}
				return b.sqlError("create table "+b.schema+"."+t.name, err)
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return b.sqlError("create the tables", err)
	}
	b.logger.Info("made the state tables", "schema", b.schema, "tables", strings.Join(missing, ", "))
	return nil
}

// checkPrivileges checks USAGE on the schema and what a run does on each
// table.
func (b *Backend) checkPrivileges(ctx context.Context) error {
	user := b.connCfg.User
	var usage bool
	if err := b.pool.QueryRow(ctx, "SELECT has_schema_privilege($1, 'USAGE')", b.schema).Scan(&usage); err != nil {
		return b.sqlError("check privileges", err)
	}
	if !usage {
		return fmt.Errorf("permission denied for schema %s: grant USAGE on schema %s to %s (schema_name)", b.schema, b.schema, user)
	}
	for _, t := range tables {
		var ok bool
		name := pgx.Identifier{b.schema, t.name}.Sanitize()
		if err := b.pool.QueryRow(ctx, "SELECT has_table_privilege($1, $2)", name, t.privileges).Scan(&ok); err != nil {
			return b.sqlError("check privileges", err)
		}
		if !ok {
			return fmt.Errorf("permission denied for table %s.%s: grant %s on it to %s (or grant SELECT, INSERT, UPDATE, DELETE on all tables in schema %s)",
				b.schema, t.name, t.privileges, user, b.schema)
		}
	}
	return nil
}

// parseError says what is wrong with conn_str, without the string (an
// unparsable string may hide a password where pgx cannot redact it).
func parseError(connStr string, err error) error {
	msg := err.Error()
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		// "cannot parse `REDACTED`: MESSAGE (CAUSE)".
		if i := strings.Index(msg, "`: "); i >= 0 {
			msg = msg[i+3:]
		}
	}
	if connStr != "" {
		msg = strings.ReplaceAll(msg, connStr, "conn_str")
	}
	if u, err := url.Parse(connStr); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return fmt.Errorf("invalid conn_str: %s", msg)
}

// connectError turns a failure to connect into one sentence naming the
// setting to fix.
func (b *Backend) connectError(err error) error {
	cc := b.connCfg
	if pe := pgError(err); pe != nil {
		switch pe.Code {
		case "28P01":
			return fmt.Errorf("password authentication failed for user %s: check conn_str or PGPASSWORD", cc.User)
		case "28000":
			return fmt.Errorf("PostgreSQL at %s refused user %s (%s): check the user in conn_str (or PGUSER) and the server's pg_hba.conf", b.addr(), cc.User, pe.Message)
		case "3D000":
			return fmt.Errorf("database %s does not exist on %s: check dbname in conn_str (or PGDATABASE)", cc.Database, b.addr())
		}
		return fmt.Errorf("connect to PostgreSQL at %s as %s: %s (SQLSTATE %s)", b.addr(), cc.User, pe.Message, pe.Code)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("connect to PostgreSQL at %s: %w", b.addr(), err)
	}
	// pgx tries each address (and TLS, then plain) in turn: the first
	// network error says enough.
	cause, _, _ := strings.Cut(err.Error(), "\n")
	var oe *net.OpError
	if errors.As(err, &oe) {
		cause = oe.Err.Error()
	}
	if pgconn.Timeout(err) {
		cause = "timed out"
	}
	return fmt.Errorf("cannot reach PostgreSQL at %s (%s): check host and port in conn_str (or PGHOST and PGPORT)", b.addr(), cause)
}

// addr is the server's host:port, or its socket.
func (b *Backend) addr() string {
	h := b.connCfg.Host
	port := strconv.Itoa(int(b.connCfg.Port))
	if strings.HasPrefix(h, "/") {
		return "socket " + h + "/.s.PGSQL." + port
	}
	return h + ":" + port
}

func pgError(err error) *pgconn.PgError {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe
	}
	return nil
}

func isPermission(err error) bool {
	pe := pgError(err)
	return pe != nil && pe.Code == "42501"
}

// sqlError wraps the error of a statement with what it did and where;
// a missing privilege says which grant is needed.
func (b *Backend) sqlError(what string, err error) error {
	if pe := pgError(err); pe != nil && pe.Code == "42501" {
		return fmt.Errorf("%s in %s: %s: grant USAGE on schema %s and SELECT, INSERT, UPDATE, DELETE on all tables in schema %s to %s",
			what, b.desc, pe.Message, b.schema, b.schema, b.connCfg.User)
	}
	return fmt.Errorf("%s in %s: %w", what, b.desc, err)
}
