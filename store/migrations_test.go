package store

import (
	"strings"
	"sync"
	"testing"
	"time"
)

type appliedRow struct {
	Version   int
	Name      string
	AppliedAt time.Time
}

func applied(t *testing.T, s *Store) []appliedRow {
	t.Helper()
	var rows []appliedRow
	if err := s.db.Raw(`SELECT version, name, applied_at FROM schema_migrations ORDER BY version`).Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestMigrateTwiceIsNoOp(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		before := applied(t, s)
		if len(before) != len(migrations) {
			t.Fatalf("%d migrations recorded, want %d", len(before), len(migrations))
		}
		for i, m := range migrations {
			if before[i].Version != m.Version || before[i].Name != m.Name {
				t.Errorf("row %d = %d %s, want %d %s", i, before[i].Version, before[i].Name, m.Version, m.Name)
			}
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		after := applied(t, s)
		if len(after) != len(before) {
			t.Fatalf("second migrate recorded %d rows, first %d", len(after), len(before))
		}
		for i := range before {
			if !after[i].AppliedAt.Equal(before[i].AppliedAt) {
				t.Errorf("migration %d re-applied", before[i].Version)
			}
		}
		// The schema still works after the no-op.
		if _, _, err := s.NextID(ctx, "incidents", "INC"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestMigrateRefusesUnknownVersion(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		next := migrations[len(migrations)-1].Version + 1
		if err := s.db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			next, "from_the_future", time.Now().UTC()).Error; err != nil {
			t.Fatal(err)
		}
		err := s.Migrate(ctx)
		if err == nil {
			t.Fatal("Migrate accepted a database with an unknown newer version")
		}
		if !strings.Contains(err.Error(), "does not know") {
			t.Errorf("error %q does not explain the refusal", err)
		}
	})
}

// Servers and workers start together and all migrate: on a fresh database,
// concurrent Migrate calls apply each migration once and all succeed.
func TestMigrateConcurrentOnFreshDatabase(t *testing.T) {
	t.Parallel()
	for name, newURL := range map[string]func(testing.TB) string{"sqlite": newSQLiteURL, "postgres": newPostgresURL} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			u := newURL(t)
			stores := make([]*Store, 4)
			for i := range stores {
				stores[i] = openURL(t, u)
			}
			var wg sync.WaitGroup
			errs := make([]error, len(stores))
			for i, s := range stores {
				wg.Go(func() { errs[i] = s.Migrate(ctxT(t)) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("migrate %d: %v", i, err)
				}
			}
			if rows := applied(t, stores[0]); len(rows) != len(migrations) {
				t.Errorf("%d schema_migrations rows, want %d", len(rows), len(migrations))
			}
		})
	}
}

func TestMigrationsOrdered(t *testing.T) {
	for i := 1; i < len(migrations); i++ {
		if migrations[i].Version <= migrations[i-1].Version {
			t.Errorf("migration %d (%s) follows %d", migrations[i].Version, migrations[i].Name, migrations[i-1].Version)
		}
	}
}

func TestHistoryIsAppendOnly(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		c := testCase("INC-000001", 1, 1)
		if err := s.Project(ctx, Projection{Case: c, Entry: entry(c.ID, 1, "open", "", "logged")}); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			`UPDATE history SET actor = 'mallory' WHERE case_id = 'INC-000001'`,
			`DELETE FROM history WHERE case_id = 'INC-000001'`,
			`DELETE FROM history`,
		} {
			err := s.db.Exec(q).Error
			if err == nil {
				t.Errorf("%s: succeeded", q)
			} else if !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: %v, want the append-only error", q, err)
			}
		}
		if s.Dialect() == "postgres" {
			if err := s.db.Exec(`TRUNCATE history`).Error; err == nil {
				t.Error("TRUNCATE history succeeded")
			}
		}
		h, err := s.History(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 1 || h[0].Actor != "alice" {
			t.Errorf("history changed: %+v", h)
		}
	})
}
