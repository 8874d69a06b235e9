package testbed

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// The test bed's cluster serves password logins over TCP, makes
// databases and roles, and a role without privileges is refused.
func TestPostgres(t *testing.T) {
	p := Postgres(t)
	ctx := context.Background()
	db, connStr := p.Database(t)
	c, err := pgx.Connect(ctx, connStr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE SCHEMA s; CREATE TABLE s.t (x int)"); err != nil {
		t.Fatalf("the database's owner: %v", err)
	}
	if err := p.CreateRole(ctx, "nobody_much", "pw"); err != nil {
		t.Fatal(err)
	}
	c2, err := pgx.Connect(ctx, p.ConnStr("nobody_much", "pw", db))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close(ctx)
	if _, err := c2.Exec(ctx, "CREATE SCHEMA s2"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("a role without privileges created a schema: %v", err)
	}
	if _, err := pgx.Connect(ctx, p.ConnStr("nobody_much", "wrong", db)); err == nil || !strings.Contains(err.Error(), "password authentication failed") {
		t.Errorf("wrong password: %v", err)
	}
}
