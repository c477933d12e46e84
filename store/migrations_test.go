package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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

// A database that the previous release wrote (every migration but the
// last, with rows in every kind of table) is upgraded by this binary with
// its data intact: each row of each table reads back the same in the
// columns it had, and the current code reads and extends it.
//
// Not parallel: Migrate applies the package's migrations, which this test
// shortens to the previous set for a moment. Parallel tests wait until the
// sequential ones have finished, so none of them sees the shorter list.
//
// The rows are written in plain SQL against the tables of migrations 1 to
// 12, so they stay valid as migrations are appended. A new migration that
// rewrites existing rows on purpose makes this test fail; say so here, with
// the table and columns it changes, rather than weakening the comparison.
func TestUpgradeFromPreviousMigrationSet(t *testing.T) {
	if len(migrations) < 13 {
		t.Fatalf("%d migrations: the fixture needs the tables of migrations 1 to 12 in the previous set", len(migrations))
	}
	for _, d := range []struct {
		name string
		url  func(testing.TB) string
	}{{"sqlite", newSQLiteURL}, {"postgres", newPostgresURL}} {
		t.Run(d.name, func(t *testing.T) {
			ctx := ctxT(t)
			url := d.url(t)
			old := openURL(t, url)
			all := migrations
			migrations = all[:len(all)-1]
			err := old.Migrate(ctx)
			migrations = all
			if err != nil {
				t.Fatalf("previous migration set: %v", err)
			}
			if got := applied(t, old); len(got) != len(all)-1 {
				t.Fatalf("previous set recorded %d migrations, want %d", len(got), len(all)-1)
			}
			writePreviousRows(t, old)
			before := dumpTables(t, old)

			// The new binary: a new process on the same database.
			s := reopen(t, old)
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("upgrade: %v", err)
			}
			if got := applied(t, s); len(got) != len(all) || got[len(got)-1].Version != all[len(all)-1].Version {
				t.Fatalf("after the upgrade %d migrations are recorded, want %d", len(got), len(all))
			}

			after := dumpTables(t, s)
			for table, rows := range before {
				if table == "schema_migrations" {
					continue
				}
				now, ok := after[table]
				if !ok {
					t.Errorf("table %s is gone", table)
					continue
				}
				if got, want := now.project(rows.columns), rows.rows; !slices.Equal(got, want) {
					t.Errorf("table %s changed:\nbefore %q\nafter  %q", table, want, got)
				}
			}
			if len(before) < 20 {
				t.Errorf("only %d tables before the upgrade: the fixture did not run against the full previous schema", len(before))
			}

			checkPreviousRows(t, s)
		})
	}
}

// fixtureAt is when the previous release wrote the fixture.
var fixtureAt = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

// writePreviousRows fills the tables of migrations 1 to 12 the way the
// previous release's code did, in its own SQL.
func writePreviousRows(t *testing.T, s *Store) {
	t.Helper()
	at := fixtureAt
	snapshot := func(ci CI) string {
		b, err := json.Marshal(ci)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	mx1 := CI{ID: "mx1", Type: "server", Name: "Mail exchanger", Owner: "olga", Status: "live", Version: "2",
		Location: "dc1", Attributes: map[string]string{"os": "debian"}, Relations: []Relation{{Type: RelRunsOn, To: "vm1"}},
		Rev: 2, ChangeID: "CHG-000007", UpdatedBy: "bob", UpdatedAt: at.Add(time.Hour)}
	mx1v1 := mx1
	mx1v1.Version, mx1v1.Rev, mx1v1.ChangeID, mx1v1.UpdatedBy, mx1v1.UpdatedAt = "1", 1, "", "configuration", at

	stmts := []struct {
		q    string
		args []any
	}{
		{`INSERT INTO sequences (kind, last) VALUES (?, ?), (?, ?), (?, ?)`, []any{"incidents", 41, "changes", 7, "problems", 3}},
		{`INSERT INTO cases (id, kind, num, title, status, priority, service, assignee, grp, major, breached, created_by, caller, created_at, updated_at, seq, record)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			[]any{"INC-000041", "incidents", 41, "Mail is down — 日本語も", "in_progress", "P1", "email", "bob", "second-line", true, true,
				"alice", "carol", at, at.Add(20 * time.Minute), 2, `{"id":"INC-000041","status":"in_progress","sla":{"breached":["response"]}}`}},
		{`INSERT INTO cases (id, kind, num, title, status, priority, created_by, created_at, updated_at, seq, record)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			[]any{"CHG-000007", "changes", 7, "Upgrade the mail exchanger", "scheduled", "", "bob", at, at.Add(time.Hour), 1, `{"id":"CHG-000007"}`,
				"PRB-000003", "problems", 3, "Mail queue stalls", "known_error", "P2", "bob", at, at.Add(2 * time.Hour), 1, `{"id":"PRB-000003"}`}},
		{`INSERT INTO history (case_id, seq, at, actor, action, from_status, to_status, detail)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?, ?, ?)`,
			[]any{"INC-000041", 1, at, "alice", "open", "", "logged", `{"impact":"high"}`,
				"INC-000041", 2, at.Add(20 * time.Minute), "bob", "start", "logged", "in_progress", `{}`,
				"CHG-000007", 1, at, "bob", "open", "", "scheduled", `{}`}},
		{`INSERT INTO notifications (case_id, seq, recipient, channel, event, subject, body, created_at, sent_at, attempts, last_error)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			[]any{"INC-000041", 1, "mona@example.com", "email", "major_declared", "INC-000041 is major", "Body", at, at.Add(time.Minute), 1, ""}},
		{`INSERT INTO notifications (case_id, seq, recipient, channel, event, created_at, attempts, last_error, claimed_until)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			[]any{"INC-000041", 2, "U0MONA", "slack", "escalation", at.Add(20 * time.Minute), 3, "rate limited", at.Add(30 * time.Minute)}},
		{`INSERT INTO users (id, name, email, slack_id, roles, token_hash, active, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?, ?, ?)`,
			[]any{"alice", "Alice", "alice@example.com", "U0ALICE", `["agent"]`, hashToken("alice-fixture-token"), true, at,
				"gone", "Gone", "gone@example.com", "", `[]`, "", false, at}},
		{`INSERT INTO "groups" (id, name, manager, active, updated_at) VALUES (?, ?, ?, ?, ?)`, []any{"second-line", "Second line", "mona", true, at}},
		{`INSERT INTO group_members (group_id, user_id) VALUES (?, ?), (?, ?)`, []any{"second-line", "alice", "second-line", "bob"}},
		{`INSERT INTO services (id, name, owner, active, updated_at) VALUES (?, ?, ?, ?, ?)`, []any{"email", "Corporate email", "olga", true, at}},
		{`INSERT INTO cis (id, type, name, owner, status, version, location, rev, change_id, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			[]any{mx1.ID, mx1.Type, mx1.Name, mx1.Owner, mx1.Status, mx1.Version, mx1.Location, mx1.Rev, mx1.ChangeID, mx1.UpdatedBy, mx1.UpdatedAt}},
		{`INSERT INTO ci_revisions (ci_id, rev, change_id, updated_by, updated_at, snapshot) VALUES (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?)`,
			[]any{"mx1", 1, "", "configuration", at, snapshot(mx1v1), "mx1", 2, "CHG-000007", "bob", at.Add(time.Hour), snapshot(mx1)}},
		{`INSERT INTO ci_relations (ci_id, type, to_id) VALUES (?, ?, ?)`, []any{"mx1", RelRunsOn, "vm1"}},
		{`INSERT INTO service_cis (service_id, ci_id) VALUES (?, ?)`, []any{"email", "mx1"}},
		{`INSERT INTO baselines (name, release_id, created_by, created_at) VALUES (?, ?, ?, ?)`, []any{"mail-2026-03", "", "bob", at}},
		{`INSERT INTO baseline_items (baseline_id, ci_id, rev, snapshot) SELECT id, ?, ?, ? FROM baselines WHERE name = ?`,
			[]any{"mx1", 1, snapshot(mx1v1), "mail-2026-03"}},
		{`INSERT INTO change_schedule (change_id, title, type, status, start_at, end_at, cis, services, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			[]any{"CHG-000007", "Upgrade the mail exchanger", "normal", "scheduled", at.Add(24 * time.Hour), at.Add(26 * time.Hour), `["mx1"]`, `["email"]`, 1}},
		{`INSERT INTO known_errors (problem_id, title, root_cause, workaround, status, services, updated_at, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			[]any{"PRB-000003", "Mail queue stalls", "a full spool disk", "flush the queue", "known_error", `["email"]`, at, 1}},
		{`INSERT INTO mail_cursors (mailbox, uid_validity, last_uid) VALUES (?, ?, ?)`, []any{"INBOX", 7, 120}},
		{`INSERT INTO mail_messages (dedupe_key, message_id, msgid_hash, mailbox, uid, from_addr, subject, case_id, disposition, reason, received_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			[]any{"mid:abc", "<abc@example.com>", "h-abc", "INBOX", 120, "carol@example.com", "Mail is down", "INC-000041", "case", "", at, at}},
		{`INSERT INTO mail_caps (recipient, day, count) VALUES (?, ?, ?)`, []any{"carol@example.com", "2026-03-02", 4}},
		{`INSERT INTO attachments (case_id, source_key, filename, content_type, size, data, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			[]any{"INC-000041", "mid:abc", "trace.bin", "application/octet-stream", 5, []byte{0, 1, 2, 0xfe, 0xff}, at}},
		{`INSERT INTO used_tokens (id, used_at) VALUES (?, ?)`, []any{"tok-1", at}},
		{`INSERT INTO settings (key, value) VALUES (?, ?)`, []any{"decision_link_key", "c2VjcmV0"}},
		{`INSERT INTO slack_links (team_id, slack_user, user_id) VALUES (?, ?, ?)`, []any{"T1", "U0ALICE2", "alice"}},
		{`INSERT INTO slack_link_codes (code_hash, user_id, expires_at) VALUES (?, ?, ?)`, []any{"code-hash", "alice", at.Add(time.Hour)}},
		{`INSERT INTO slack_messages (case_id, key, channel, ts, slack_user) VALUES (?, ?, ?, ?, ?)`, []any{"INC-000041", "open", "C1", "1700000000.000100", ""}},
		{`INSERT INTO slack_replay (key, expires_at) VALUES (?, ?)`, []any{"sig-1", at.Add(5 * time.Minute)}},
	}
	for _, st := range stmts {
		if err := s.db.Exec(st.q, st.args...).Error; err != nil {
			t.Fatalf("%v\n%s", err, st.q)
		}
	}
}

// checkPreviousRows reads the fixture through the current code, then
// writes to it, as a server would right after the upgrade.
func checkPreviousRows(t *testing.T, s *Store) {
	t.Helper()
	ctx := ctxT(t)
	c, err := s.GetCase(ctx, "INC-000041")
	if err != nil {
		t.Fatal(err)
	}
	if c.Title != "Mail is down — 日本語も" || c.Status != "in_progress" || !c.Major || !c.Breached || c.Seq != 2 ||
		!c.CreatedAt.Equal(fixtureAt) || string(c.Record) != `{"id":"INC-000041","status":"in_progress","sla":{"breached":["response"]}}` {
		t.Errorf("case read back as %+v", c)
	}
	if h, err := s.History(ctx, "INC-000041"); err != nil || len(h) != 2 || h[1].Action != "start" || string(h[0].Detail) != `{"impact":"high"}` {
		t.Errorf("history read back as %+v, %v", h, err)
	}
	if u, groups, err := s.UserByToken(ctx, "alice-fixture-token"); err != nil || u.ID != "alice" || !slices.Contains(groups, "second-line") {
		t.Errorf("token of alice: %+v %v %v", u, groups, err)
	}
	if ns, err := s.Notifications(ctx, "INC-000041"); err != nil || len(ns) != 2 {
		t.Errorf("notifications: %+v %v", ns, err)
	}
	if ci, err := s.GetCI(ctx, "mx1"); err != nil || ci.Rev != 2 || ci.Version != "2" || ci.Attributes["os"] != "debian" {
		t.Errorf("CI read back as %+v, %v", ci, err)
	}
	if v, l, err := s.MailCursor(ctx, "INBOX"); err != nil || v != 7 || l != 120 {
		t.Errorf("mail cursor %d/%d, %v", v, l, err)
	}
	// (The bytes themselves are compared with the rest of the table above.)
	if as, err := s.Attachments(ctx, "INC-000041"); err != nil || len(as) != 1 || as[0].Filename != "trace.bin" || as[0].Size != 5 {
		t.Errorf("attachments: %+v %v", as, err)
	}
	if v, err := s.Setting(ctx, "decision_link_key", func() (string, error) { return "", errors.New("the setting was lost") }); err != nil || v != "c2VjcmV0" {
		t.Errorf("setting: %q %v", v, err)
	}
	if sched, err := s.ChangeSchedule(ctx, fixtureAt, fixtureAt.Add(48*time.Hour)); err != nil || len(sched) != 1 {
		t.Errorf("change schedule: %+v %v", sched, err)
	}

	// The sequences go on where they were, and a transition projects onto
	// the old rows.
	if id, _, err := s.NextID(ctx, "incidents", "INC"); err != nil || id != "INC-000042" {
		t.Errorf("next incident id %q, %v", id, err)
	}
	c.Seq, c.Status, c.UpdatedAt = 3, "resolved", fixtureAt.Add(3*time.Hour)
	c.Record = []byte(`{"id":"INC-000041","status":"resolved"}`)
	e := &HistoryEntry{CaseID: c.ID, Seq: 3, At: c.UpdatedAt, Actor: "bob", Action: "resolve", From: "in_progress", To: "resolved"}
	n := Notification{CaseID: c.ID, Seq: 3, Recipient: "carol@example.com", Channel: "email", Event: "resolved", CreatedAt: c.UpdatedAt}
	if err := s.Project(ctx, Projection{Case: c, Entry: e, Notifications: []Notification{n}}); err != nil {
		t.Fatalf("project onto the upgraded database: %v", err)
	}
	if h, err := s.History(ctx, c.ID); err != nil || len(h) != 3 {
		t.Errorf("history after a new transition: %d entries, %v", len(h), err)
	}
	if ns, err := s.Notifications(ctx, c.ID); err != nil || len(ns) != 3 {
		t.Errorf("notifications after a new transition: %d, %v", len(ns), err)
	}
}

// tableDump is a table's rows, each one line of its columns' values.
type tableDump struct {
	columns []string
	data    []map[string]string
	rows    []string // sorted lines of every column
}

// project is the sorted lines of the given columns.
func (d tableDump) project(columns []string) []string {
	out := make([]string, 0, len(d.data))
	for _, r := range d.data {
		out = append(out, line(r, columns))
	}
	slices.Sort(out)
	return out
}

func line(r map[string]string, columns []string) string {
	parts := make([]string, len(columns))
	for i, c := range columns {
		parts[i] = c + "=" + r[c]
	}
	return strings.Join(parts, " | ")
}

// dumpTables reads every table of the database.
func dumpTables(t *testing.T, s *Store) map[string]tableDump {
	t.Helper()
	ctx := ctxT(t)
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if s.Dialect() == dialectPostgres {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	var tables []string
	if err := query(ctx, s.db, func(r *sql.Rows) error {
		var n string
		tables = append(tables, n)
		return r.Scan(&tables[len(tables)-1])
	}, q); err != nil {
		t.Fatal(err)
	}
	out := make(map[string]tableDump, len(tables))
	for _, table := range tables {
		rows, err := s.db.WithContext(ctx).Raw(`SELECT * FROM "` + table + `"`).Rows()
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		d := tableDump{columns: cols}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			r := make(map[string]string, len(cols))
			for i, c := range cols {
				switch v := vals[i].(type) {
				case time.Time:
					r[c] = v.UTC().Format(time.RFC3339Nano)
				case []byte:
					r[c] = fmt.Sprintf("%x", v)
				default:
					r[c] = fmt.Sprint(v)
				}
			}
			d.data = append(d.data, r)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		d.rows = d.project(cols)
		out[table] = d
	}
	return out
}
