package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
)

// migration is one schema step. Migrations are append-only: a released
// migration is never edited, only followed by a new one. Each is
// self-contained plain SQL, so it still runs in two years against the schema
// it was written for, whatever the Go structs look like by then.
type migration struct {
	Version int
	Name    string
	Up      func(tx *gorm.DB) error
}

// both is a statement that reads the same on SQLite and PostgreSQL; perDialect
// picks between two that differ (an empty one is skipped).
type stmt struct{ sqlite, postgres string }

func both(q string) stmt                { return stmt{q, q} }
func perDialect(sqlite, pg string) stmt { return stmt{sqlite, pg} }

func run(tx *gorm.DB, stmts ...stmt) error {
	for _, s := range stmts {
		q := s.sqlite
		if tx.Dialector.Name() == dialectPostgres {
			q = s.postgres
		}
		if q == "" {
			continue
		}
		if err := tx.Exec(q).Error; err != nil {
			return fmt.Errorf("%w\n%s", err, q)
		}
	}
	return nil
}

// migrations, in order. Append only.
var migrations = []migration{
	{1, "sequences", func(tx *gorm.DB) error {
		return run(tx, both(`CREATE TABLE sequences (
			kind TEXT PRIMARY KEY,
			last BIGINT NOT NULL
		)`))
	}},
	{2, "cases", func(tx *gorm.DB) error {
		return run(tx,
			perDialect(`CREATE TABLE cases (
				id         TEXT PRIMARY KEY,
				kind       TEXT NOT NULL,
				num        INTEGER NOT NULL,
				title      TEXT NOT NULL DEFAULT '',
				status     TEXT NOT NULL DEFAULT '',
				priority   TEXT NOT NULL DEFAULT '',
				service    TEXT NOT NULL DEFAULT '',
				assignee   TEXT NOT NULL DEFAULT '',
				grp        TEXT NOT NULL DEFAULT '',
				major      BOOLEAN NOT NULL DEFAULT 0,
				breached   BOOLEAN NOT NULL DEFAULT 0,
				created_by TEXT NOT NULL DEFAULT '',
				caller     TEXT NOT NULL DEFAULT '',
				created_at TIMESTAMP NOT NULL,
				updated_at TIMESTAMP NOT NULL,
				seq        INTEGER NOT NULL DEFAULT 0,
				record     TEXT NOT NULL DEFAULT ''
			)`, `CREATE TABLE cases (
				id         TEXT PRIMARY KEY,
				kind       TEXT NOT NULL,
				num        BIGINT NOT NULL,
				title      TEXT NOT NULL DEFAULT '',
				status     TEXT NOT NULL DEFAULT '',
				priority   TEXT NOT NULL DEFAULT '',
				service    TEXT NOT NULL DEFAULT '',
				assignee   TEXT NOT NULL DEFAULT '',
				grp        TEXT NOT NULL DEFAULT '',
				major      BOOLEAN NOT NULL DEFAULT FALSE,
				breached   BOOLEAN NOT NULL DEFAULT FALSE,
				created_by TEXT NOT NULL DEFAULT '',
				caller     TEXT NOT NULL DEFAULT '',
				created_at TIMESTAMPTZ NOT NULL,
				updated_at TIMESTAMPTZ NOT NULL,
				seq        BIGINT NOT NULL DEFAULT 0,
				record     TEXT NOT NULL DEFAULT ''
			)`),
			// Every list filter has an index ending in num, so "newest first"
			// is an index walk that stops after one page.
			both(`CREATE UNIQUE INDEX cases_kind_num ON cases (kind, num)`),
			both(`CREATE INDEX cases_kind_status_num ON cases (kind, status, num)`),
			both(`CREATE INDEX cases_kind_priority_num ON cases (kind, priority, num)`),
			both(`CREATE INDEX cases_kind_service_num ON cases (kind, service, num)`),
			both(`CREATE INDEX cases_kind_assignee_num ON cases (kind, assignee, num)`),
			both(`CREATE INDEX cases_kind_grp_num ON cases (kind, grp, num)`),
			both(`CREATE INDEX cases_kind_created_by_num ON cases (kind, created_by, num)`),
			both(`CREATE INDEX cases_kind_caller_num ON cases (kind, caller, num)`),
			both(`CREATE INDEX cases_kind_major_num ON cases (kind, major, num)`),
			both(`CREATE INDEX cases_kind_breached_num ON cases (kind, breached, num)`),
			// Lists across kinds order by num, id.
			both(`CREATE INDEX cases_num_id ON cases (num, id)`),
		)
	}},
	{3, "history", func(tx *gorm.DB) error {
		return run(tx,
			perDialect(`CREATE TABLE history (
				case_id     TEXT NOT NULL REFERENCES cases (id),
				seq         INTEGER NOT NULL,
				at          TIMESTAMP NOT NULL,
				actor       TEXT NOT NULL DEFAULT '',
				action      TEXT NOT NULL DEFAULT '',
				from_status TEXT NOT NULL DEFAULT '',
				to_status   TEXT NOT NULL DEFAULT '',
				detail      TEXT NOT NULL DEFAULT '{}',
				PRIMARY KEY (case_id, seq)
			)`, `CREATE TABLE history (
				case_id     TEXT NOT NULL REFERENCES cases (id),
				seq         BIGINT NOT NULL,
				at          TIMESTAMPTZ NOT NULL,
				actor       TEXT NOT NULL DEFAULT '',
				action      TEXT NOT NULL DEFAULT '',
				from_status TEXT NOT NULL DEFAULT '',
				to_status   TEXT NOT NULL DEFAULT '',
				detail      TEXT NOT NULL DEFAULT '{}',
				PRIMARY KEY (case_id, seq)
			)`),
		)
	}},
	{4, "history_append_only", func(tx *gorm.DB) error {
		// History is evidence (ISO/IEC 20000-1 records): the database itself
		// refuses to change or remove an entry, whoever connects to it.
		return run(tx,
			perDialect(`CREATE TRIGGER history_no_update BEFORE UPDATE ON history
				BEGIN SELECT RAISE(ABORT, 'history is append-only'); END`,
				`CREATE FUNCTION history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN
					RAISE EXCEPTION 'history is append-only';
				END
				$$`),
			perDialect(`CREATE TRIGGER history_no_delete BEFORE DELETE ON history
				BEGIN SELECT RAISE(ABORT, 'history is append-only'); END`,
				`CREATE TRIGGER history_append_only BEFORE UPDATE OR DELETE ON history
				FOR EACH ROW EXECUTE FUNCTION history_append_only()`),
			// Row triggers do not fire on TRUNCATE.
			perDialect(``,
				`CREATE TRIGGER history_no_truncate BEFORE TRUNCATE ON history
				FOR EACH STATEMENT EXECUTE FUNCTION history_append_only()`),
		)
	}},
	{5, "notifications", func(tx *gorm.DB) error {
		return run(tx,
			perDialect(`CREATE TABLE notifications (
				id         INTEGER PRIMARY KEY,
				case_id    TEXT NOT NULL REFERENCES cases (id),
				seq        INTEGER NOT NULL,
				recipient  TEXT NOT NULL,
				channel    TEXT NOT NULL,
				event      TEXT NOT NULL DEFAULT '',
				subject    TEXT NOT NULL DEFAULT '',
				body       TEXT NOT NULL DEFAULT '',
				created_at TIMESTAMP NOT NULL,
				sent_at    TIMESTAMP,
				attempts   INTEGER NOT NULL DEFAULT 0,
				last_error TEXT NOT NULL DEFAULT ''
			)`, `CREATE TABLE notifications (
				id         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
				case_id    TEXT NOT NULL REFERENCES cases (id),
				seq        BIGINT NOT NULL,
				recipient  TEXT NOT NULL,
				channel    TEXT NOT NULL,
				event      TEXT NOT NULL DEFAULT '',
				subject    TEXT NOT NULL DEFAULT '',
				body       TEXT NOT NULL DEFAULT '',
				created_at TIMESTAMPTZ NOT NULL,
				sent_at    TIMESTAMPTZ,
				attempts   INTEGER NOT NULL DEFAULT 0,
				last_error TEXT NOT NULL DEFAULT ''
			)`),
			both(`CREATE UNIQUE INDEX notifications_key ON notifications (case_id, seq, recipient, channel)`),
			// The outbox sender polls for what is unsent; sent rows, the vast
			// majority, stay out of this index.
			both(`CREATE INDEX notifications_pending ON notifications (channel, id) WHERE sent_at IS NULL`),
		)
	}},
	{6, "directory", func(tx *gorm.DB) error {
		return run(tx,
			perDialect(`CREATE TABLE users (
				id         TEXT PRIMARY KEY,
				name       TEXT NOT NULL DEFAULT '',
				email      TEXT NOT NULL DEFAULT '',
				slack_id   TEXT NOT NULL DEFAULT '',
				roles      TEXT NOT NULL DEFAULT '[]',
				token_hash TEXT NOT NULL DEFAULT '',
				active     BOOLEAN NOT NULL DEFAULT 1,
				updated_at TIMESTAMP NOT NULL
			)`, `CREATE TABLE users (
				id         TEXT PRIMARY KEY,
				name       TEXT NOT NULL DEFAULT '',
				email      TEXT NOT NULL DEFAULT '',
				slack_id   TEXT NOT NULL DEFAULT '',
				roles      TEXT NOT NULL DEFAULT '[]',
				token_hash TEXT NOT NULL DEFAULT '',
				active     BOOLEAN NOT NULL DEFAULT TRUE,
				updated_at TIMESTAMPTZ NOT NULL
			)`),
			both(`CREATE UNIQUE INDEX users_token_hash ON users (token_hash) WHERE token_hash <> ''`),
			both(`CREATE INDEX users_email ON users (email)`),
			both(`CREATE INDEX users_slack_id ON users (slack_id)`),
			perDialect(`CREATE TABLE "groups" (
				id         TEXT PRIMARY KEY,
				name       TEXT NOT NULL DEFAULT '',
				manager    TEXT NOT NULL DEFAULT '',
				active     BOOLEAN NOT NULL DEFAULT 1,
				updated_at TIMESTAMP NOT NULL
			)`, `CREATE TABLE "groups" (
				id         TEXT PRIMARY KEY,
				name       TEXT NOT NULL DEFAULT '',
				manager    TEXT NOT NULL DEFAULT '',
				active     BOOLEAN NOT NULL DEFAULT TRUE,
				updated_at TIMESTAMPTZ NOT NULL
			)`),
			// user_id is not a foreign key: the configuration may name a
			// member before (or without) describing the user.
			both(`CREATE TABLE group_members (
				group_id TEXT NOT NULL REFERENCES "groups" (id),
				user_id  TEXT NOT NULL,
				PRIMARY KEY (group_id, user_id)
			)`),
			both(`CREATE INDEX group_members_user ON group_members (user_id, group_id)`),
			perDialect(`CREATE TABLE services (
				id         TEXT PRIMARY KEY,
				name       TEXT NOT NULL DEFAULT '',
				owner      TEXT NOT NULL DEFAULT '',
				active     BOOLEAN NOT NULL DEFAULT 1,
				updated_at TIMESTAMP NOT NULL
			)`, `CREATE TABLE services (
				id         TEXT PRIMARY KEY,
				name       TEXT NOT NULL DEFAULT '',
				owner      TEXT NOT NULL DEFAULT '',
				active     BOOLEAN NOT NULL DEFAULT TRUE,
				updated_at TIMESTAMPTZ NOT NULL
			)`),
		)
	}},
	{7, "cmdb", func(tx *gorm.DB) error {
		// A CI's content lives in its revisions (a JSON snapshot each); cis
		// holds the columns lists filter on and points at the current
		// revision. ci_relations is the current graph that impact analysis
		// walks.
		return run(tx,
			perDialect(`CREATE TABLE cis (
				id         TEXT PRIMARY KEY,
				type       TEXT NOT NULL,
				name       TEXT NOT NULL DEFAULT '',
				owner      TEXT NOT NULL DEFAULT '',
				status     TEXT NOT NULL DEFAULT '',
				version    TEXT NOT NULL DEFAULT '',
				location   TEXT NOT NULL DEFAULT '',
				rev        INTEGER NOT NULL,
				change_id  TEXT NOT NULL DEFAULT '',
				updated_by TEXT NOT NULL DEFAULT '',
				updated_at TIMESTAMP NOT NULL
			)`, `CREATE TABLE cis (
				id         TEXT PRIMARY KEY,
				type       TEXT NOT NULL,
				name       TEXT NOT NULL DEFAULT '',
				owner      TEXT NOT NULL DEFAULT '',
				status     TEXT NOT NULL DEFAULT '',
				version    TEXT NOT NULL DEFAULT '',
				location   TEXT NOT NULL DEFAULT '',
				rev        BIGINT NOT NULL,
				change_id  TEXT NOT NULL DEFAULT '',
				updated_by TEXT NOT NULL DEFAULT '',
				updated_at TIMESTAMPTZ NOT NULL
			)`),
			both(`CREATE INDEX cis_type_id ON cis (type, id)`),
			both(`CREATE INDEX cis_status_id ON cis (status, id)`),
			// to_id is not a foreign key: the configuration may relate a CI
			// to one it registers later.
			both(`CREATE TABLE ci_relations (
				ci_id TEXT NOT NULL REFERENCES cis (id),
				type  TEXT NOT NULL,
				to_id TEXT NOT NULL,
				PRIMARY KEY (ci_id, type, to_id)
			)`),
			both(`CREATE INDEX ci_relations_to ON ci_relations (to_id, ci_id)`),
			perDialect(`CREATE TABLE ci_revisions (
				ci_id      TEXT NOT NULL REFERENCES cis (id),
				rev        INTEGER NOT NULL,
				change_id  TEXT NOT NULL DEFAULT '',
				updated_by TEXT NOT NULL DEFAULT '',
				updated_at TIMESTAMP NOT NULL,
				snapshot   TEXT NOT NULL,
				PRIMARY KEY (ci_id, rev)
			)`, `CREATE TABLE ci_revisions (
				ci_id      TEXT NOT NULL REFERENCES cis (id),
				rev        BIGINT NOT NULL,
				change_id  TEXT NOT NULL DEFAULT '',
				updated_by TEXT NOT NULL DEFAULT '',
				updated_at TIMESTAMPTZ NOT NULL,
				snapshot   TEXT NOT NULL,
				PRIMARY KEY (ci_id, rev)
			)`),
			// One revision per CI and change: a retried write finds the
			// first instead of adding another.
			both(`CREATE UNIQUE INDEX ci_revisions_change ON ci_revisions (change_id, ci_id) WHERE change_id <> ''`),
			// Neither column is a foreign key: services come from the
			// directory and CIs from the CMDB, seeded in either order.
			both(`CREATE TABLE service_cis (
				service_id TEXT NOT NULL,
				ci_id      TEXT NOT NULL,
				PRIMARY KEY (service_id, ci_id)
			)`),
			both(`CREATE INDEX service_cis_ci ON service_cis (ci_id, service_id)`),
			perDialect(`CREATE TABLE baselines (
				id         INTEGER PRIMARY KEY,
				name       TEXT NOT NULL UNIQUE,
				release_id TEXT NOT NULL DEFAULT '',
				created_by TEXT NOT NULL DEFAULT '',
				created_at TIMESTAMP NOT NULL
			)`, `CREATE TABLE baselines (
				id         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
				name       TEXT NOT NULL UNIQUE,
				release_id TEXT NOT NULL DEFAULT '',
				created_by TEXT NOT NULL DEFAULT '',
				created_at TIMESTAMPTZ NOT NULL
			)`),
			both(`CREATE INDEX baselines_release ON baselines (release_id, id)`),
			perDialect(`CREATE TABLE baseline_items (
				baseline_id INTEGER NOT NULL REFERENCES baselines (id),
				ci_id       TEXT NOT NULL,
				rev         INTEGER NOT NULL,
				snapshot    TEXT NOT NULL,
				PRIMARY KEY (baseline_id, ci_id)
			)`, `CREATE TABLE baseline_items (
				baseline_id BIGINT NOT NULL REFERENCES baselines (id),
				ci_id       TEXT NOT NULL,
				rev         BIGINT NOT NULL,
				snapshot    TEXT NOT NULL,
				PRIMARY KEY (baseline_id, ci_id)
			)`),
		)
	}},
	{8, "cmdb_append_only", func(tx *gorm.DB) error {
		// CI revisions and baselines are evidence (9.1: changes to CIs are
		// traceable and auditable; baselines are records): as for history,
		// the database itself refuses to change or remove them.
		stmts := []stmt{perDialect(``,
			`CREATE FUNCTION cmdb_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN
				RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
			END
			$$`)}
		for _, table := range []string{"ci_revisions", "baselines", "baseline_items"} {
			stmts = append(stmts,
				perDialect(`CREATE TRIGGER `+table+`_no_update BEFORE UPDATE ON `+table+`
					BEGIN SELECT RAISE(ABORT, '`+table+` is append-only'); END`,
					`CREATE TRIGGER `+table+`_append_only BEFORE UPDATE OR DELETE ON `+table+`
					FOR EACH ROW EXECUTE FUNCTION cmdb_append_only()`),
				perDialect(`CREATE TRIGGER `+table+`_no_delete BEFORE DELETE ON `+table+`
					BEGIN SELECT RAISE(ABORT, '`+table+` is append-only'); END`,
					// Row triggers do not fire on TRUNCATE.
					`CREATE TRIGGER `+table+`_no_truncate BEFORE TRUNCATE ON `+table+`
					FOR EACH STATEMENT EXECUTE FUNCTION cmdb_append_only()`),
			)
		}
		return run(tx, stmts...)
	}},
	{9, "change_schedule", func(tx *gorm.DB) error {
		// One row per scheduled change, projected by the change workflow.
		// cis and services are JSON arrays: conflicts are looked for among
		// the few changes whose window overlaps, never across the table.
		return run(tx,
			perDialect(`CREATE TABLE change_schedule (
				change_id TEXT PRIMARY KEY REFERENCES cases (id),
				title     TEXT NOT NULL DEFAULT '',
				type      TEXT NOT NULL DEFAULT '',
				status    TEXT NOT NULL DEFAULT '',
				start_at  TIMESTAMP NOT NULL,
				end_at    TIMESTAMP NOT NULL,
				cis       TEXT NOT NULL DEFAULT '[]',
				services  TEXT NOT NULL DEFAULT '[]',
				seq       INTEGER NOT NULL DEFAULT 0
			)`, `CREATE TABLE change_schedule (
				change_id TEXT PRIMARY KEY REFERENCES cases (id),
				title     TEXT NOT NULL DEFAULT '',
				type      TEXT NOT NULL DEFAULT '',
				status    TEXT NOT NULL DEFAULT '',
				start_at  TIMESTAMPTZ NOT NULL,
				end_at    TIMESTAMPTZ NOT NULL,
				cis       TEXT NOT NULL DEFAULT '[]',
				services  TEXT NOT NULL DEFAULT '[]',
				seq       BIGINT NOT NULL DEFAULT 0
			)`),
			both(`CREATE INDEX change_schedule_window ON change_schedule (start_at, end_at)`),
		)
	}},
	{10, "known_errors", func(tx *gorm.DB) error {
		return run(tx,
			perDialect(`CREATE TABLE known_errors (
				problem_id TEXT PRIMARY KEY REFERENCES cases (id),
				title      TEXT NOT NULL DEFAULT '',
				root_cause TEXT NOT NULL DEFAULT '',
				workaround TEXT NOT NULL DEFAULT '',
				status     TEXT NOT NULL DEFAULT '',
				services   TEXT NOT NULL DEFAULT '[]',
				updated_at TIMESTAMP NOT NULL,
				seq        INTEGER NOT NULL DEFAULT 0
			)`, `CREATE TABLE known_errors (
				problem_id TEXT PRIMARY KEY REFERENCES cases (id),
				title      TEXT NOT NULL DEFAULT '',
				root_cause TEXT NOT NULL DEFAULT '',
				workaround TEXT NOT NULL DEFAULT '',
				status     TEXT NOT NULL DEFAULT '',
				services   TEXT NOT NULL DEFAULT '[]',
				updated_at TIMESTAMPTZ NOT NULL,
				seq        BIGINT NOT NULL DEFAULT 0
			)`),
			both(`CREATE INDEX known_errors_updated ON known_errors (updated_at, problem_id)`),
		)
	}},
	{11, "mail", func(tx *gorm.DB) error {
		return run(tx,
			// One row per mailbox: the IMAP cursor (UIDVALIDITY, last UID).
			both(`CREATE TABLE mail_cursors (
				mailbox      TEXT PRIMARY KEY,
				uid_validity BIGINT NOT NULL,
				last_uid     BIGINT NOT NULL
			)`),
			// One row per message received, keyed by its dedupe key: the
			// record of what became of every mail (a case, a reply, a note,
			// ignored as a loop, failed to parse), and the map from
			// Message-ID to case that threads replies.
			perDialect(`CREATE TABLE mail_messages (
				dedupe_key  TEXT PRIMARY KEY,
				message_id  TEXT NOT NULL DEFAULT '',
				msgid_hash  TEXT NOT NULL DEFAULT '',
				mailbox     TEXT NOT NULL DEFAULT '',
				uid         BIGINT NOT NULL DEFAULT 0,
				from_addr   TEXT NOT NULL DEFAULT '',
				subject     TEXT NOT NULL DEFAULT '',
				case_id     TEXT NOT NULL DEFAULT '',
				disposition TEXT NOT NULL DEFAULT '',
				reason      TEXT NOT NULL DEFAULT '',
				received_at TIMESTAMP NOT NULL,
				updated_at  TIMESTAMP NOT NULL
			)`, `CREATE TABLE mail_messages (
				dedupe_key  TEXT PRIMARY KEY,
				message_id  TEXT NOT NULL DEFAULT '',
				msgid_hash  TEXT NOT NULL DEFAULT '',
				mailbox     TEXT NOT NULL DEFAULT '',
				uid         BIGINT NOT NULL DEFAULT 0,
				from_addr   TEXT NOT NULL DEFAULT '',
				subject     TEXT NOT NULL DEFAULT '',
				case_id     TEXT NOT NULL DEFAULT '',
				disposition TEXT NOT NULL DEFAULT '',
				reason      TEXT NOT NULL DEFAULT '',
				received_at TIMESTAMPTZ NOT NULL,
				updated_at  TIMESTAMPTZ NOT NULL
			)`),
			both(`CREATE INDEX mail_messages_msgid ON mail_messages (msgid_hash) WHERE msgid_hash <> ''`),
			both(`CREATE INDEX mail_messages_case ON mail_messages (case_id, received_at)`),
			// The per-recipient daily count of automatic mail.
			both(`CREATE TABLE mail_caps (
				recipient TEXT NOT NULL,
				day       TEXT NOT NULL,
				count     INTEGER NOT NULL,
				PRIMARY KEY (recipient, day)
			)`),
			// Attachments live here, outside the workflow payload.
			perDialect(`CREATE TABLE attachments (
				id           INTEGER PRIMARY KEY,
				case_id      TEXT NOT NULL,
				source_key   TEXT NOT NULL,
				filename     TEXT NOT NULL DEFAULT '',
				content_type TEXT NOT NULL DEFAULT '',
				size         BIGINT NOT NULL,
				data         BLOB NOT NULL,
				created_at   TIMESTAMP NOT NULL
			)`, `CREATE TABLE attachments (
				id           BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
				case_id      TEXT NOT NULL,
				source_key   TEXT NOT NULL,
				filename     TEXT NOT NULL DEFAULT '',
				content_type TEXT NOT NULL DEFAULT '',
				size         BIGINT NOT NULL,
				data         BYTEA NOT NULL,
				created_at   TIMESTAMPTZ NOT NULL
			)`),
			both(`CREATE UNIQUE INDEX attachments_key ON attachments (source_key, filename, size)`),
			both(`CREATE INDEX attachments_case ON attachments (case_id, id)`),
			// A sender claims outbox rows for a while, so two server
			// processes never send the same notification at once.
			perDialect(`ALTER TABLE notifications ADD COLUMN claimed_until TIMESTAMP`,
				`ALTER TABLE notifications ADD COLUMN claimed_until TIMESTAMPTZ`),
			// Decision links are single-use: a used token's hash is kept.
			perDialect(`CREATE TABLE used_tokens (id TEXT PRIMARY KEY, used_at TIMESTAMP NOT NULL)`,
				`CREATE TABLE used_tokens (id TEXT PRIMARY KEY, used_at TIMESTAMPTZ NOT NULL)`),
			// Settings Kanri makes for itself once and shares between its
			// processes, such as the key that signs decision links.
			both(`CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)`),
		)
	}},
	{12, "slack", func(tx *gorm.DB) error {
		return run(tx,
			// Slack users linked to Kanri users by the one-time link flow
			// (a configured slack_id needs no link).
			both(`CREATE TABLE slack_links (
				team_id    TEXT NOT NULL,
				slack_user TEXT NOT NULL,
				user_id    TEXT NOT NULL,
				PRIMARY KEY (team_id, slack_user)
			)`),
			both(`CREATE UNIQUE INDEX slack_links_user ON slack_links (team_id, user_id)`),
			perDialect(`CREATE TABLE slack_link_codes (
				code_hash  TEXT PRIMARY KEY,
				user_id    TEXT NOT NULL,
				expires_at TIMESTAMP NOT NULL
			)`, `CREATE TABLE slack_link_codes (
				code_hash  TEXT PRIMARY KEY,
				user_id    TEXT NOT NULL,
				expires_at TIMESTAMPTZ NOT NULL
			)`),
			// The Slack messages Kanri posted about a case, so a retry
			// updates a message instead of posting it twice.
			both(`CREATE TABLE slack_messages (
				case_id TEXT NOT NULL,
				key     TEXT NOT NULL,
				channel TEXT NOT NULL,
				ts      TEXT NOT NULL,
				slack_user TEXT NOT NULL DEFAULT '',
				PRIMARY KEY (case_id, key)
			)`),
			// Signatures and event ids seen lately: a replayed request is
			// refused.
			perDialect(`CREATE TABLE slack_replay (key TEXT PRIMARY KEY, expires_at TIMESTAMP NOT NULL)`,
				`CREATE TABLE slack_replay (key TEXT PRIMARY KEY, expires_at TIMESTAMPTZ NOT NULL)`),
		)
	}},
	{13, "notification_deliveries", func(tx *gorm.DB) error {
		// A notification to a group goes to each member: each delivery is
		// recorded, so a retry after one member's failure sends to the
		// others only.
		return run(tx,
			perDialect(`CREATE TABLE notification_deliveries (
				notification_id INTEGER NOT NULL REFERENCES notifications (id),
				address         TEXT NOT NULL,
				sent_at         TIMESTAMP NOT NULL,
				PRIMARY KEY (notification_id, address)
			)`, `CREATE TABLE notification_deliveries (
				notification_id BIGINT NOT NULL REFERENCES notifications (id),
				address         TEXT NOT NULL,
				sent_at         TIMESTAMPTZ NOT NULL,
				PRIMARY KEY (notification_id, address)
			)`),
		)
	}},
	{14, "satisfaction_surveys", func(tx *gorm.DB) error {
		// One satisfaction survey per closed incident or request (clause
		// 7.1), sent to its caller with the closing transition; the score
		// stays NULL until the caller answers, once.
		return run(tx,
			perDialect(`CREATE TABLE surveys (
				case_id     TEXT PRIMARY KEY REFERENCES cases (id),
				kind        TEXT NOT NULL,
				caller      TEXT NOT NULL,
				seq         INTEGER NOT NULL,
				sent_at     TIMESTAMP NOT NULL,
				score       INTEGER,
				comment     TEXT NOT NULL DEFAULT '',
				answered_at TIMESTAMP,
				CHECK (score IS NULL OR score BETWEEN 1 AND 5)
			)`, `CREATE TABLE surveys (
				case_id     TEXT PRIMARY KEY REFERENCES cases (id),
				kind        TEXT NOT NULL,
				caller      TEXT NOT NULL,
				seq         BIGINT NOT NULL,
				sent_at     TIMESTAMPTZ NOT NULL,
				score       INTEGER,
				comment     TEXT NOT NULL DEFAULT '',
				answered_at TIMESTAMPTZ,
				CHECK (score IS NULL OR score BETWEEN 1 AND 5)
			)`),
			both(`CREATE INDEX surveys_sent ON surveys (sent_at)`),
			both(`CREATE INDEX surveys_answered ON surveys (answered_at) WHERE answered_at IS NOT NULL`),
			// An answer is a record of the customer's word: once given, the
			// database refuses to change it, and no survey is removed.
			perDialect(`CREATE TRIGGER surveys_answer_final BEFORE UPDATE ON surveys
				WHEN OLD.answered_at IS NOT NULL
				BEGIN SELECT RAISE(ABORT, 'a survey answer is final'); END`,
				`CREATE FUNCTION surveys_answer_final() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN
					IF TG_OP = 'DELETE' OR OLD.answered_at IS NOT NULL THEN
						RAISE EXCEPTION 'a survey answer is final';
					END IF;
					RETURN NEW;
				END
				$$`),
			perDialect(`CREATE TRIGGER surveys_no_delete BEFORE DELETE ON surveys
				BEGIN SELECT RAISE(ABORT, 'a survey answer is final'); END`,
				`CREATE TRIGGER surveys_answer_final BEFORE UPDATE OR DELETE ON surveys
				FOR EACH ROW EXECUTE FUNCTION surveys_answer_final()`),
			// Service reports count the transitions of a period: without
			// this, every period reads the history of every case of a
			// service since the first.
			both(`CREATE INDEX history_at ON history (at)`),
		)
	}},
}

// migrationLock is the PostgreSQL advisory lock key that serializes
// concurrent Migrate calls (a server and its workers starting together).
// On SQLite, BEGIN IMMEDIATE does the same.
const migrationLock = 0x6b616e7269 // "kanri"

func (s *Store) lockMigrations(tx *gorm.DB) error {
	if s.dialect != dialectPostgres {
		return nil
	}
	return tx.Exec(`SELECT pg_advisory_xact_lock(?)`, migrationLock).Error
}

// Migrate applies the migrations this binary knows and the database lacks,
// each in its own transaction with its schema_migrations row. It refuses a
// database that carries a version this binary does not know: an older binary
// must not run against a schema written by a newer one.
func (s *Store) Migrate(ctx context.Context) error {
	err := s.write(ctx, func(tx *gorm.DB) error {
		if err := s.lockMigrations(tx); err != nil {
			return err
		}
		return run(tx, perDialect(`CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at TIMESTAMP NOT NULL
		)`, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at TIMESTAMPTZ NOT NULL
		)`))
	})
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}

	known := make(map[int]bool, len(migrations))
	for i, m := range migrations {
		if i > 0 && m.Version <= migrations[i-1].Version {
			return fmt.Errorf("store: migration %d (%s) is out of order", m.Version, m.Name)
		}
		known[m.Version] = true
	}

	for _, m := range migrations {
		err := s.write(ctx, func(tx *gorm.DB) error {
			if err := s.lockMigrations(tx); err != nil {
				return err
			}
			applied, err := appliedVersions(tx)
			if err != nil {
				return err
			}
			for _, v := range applied {
				if !known[v] {
					return fmt.Errorf("database has schema version %d, which this binary does not know (it knows up to %d): upgrade kanri",
						v, migrations[len(migrations)-1].Version)
				}
			}
			if slices.Contains(applied, m.Version) {
				return nil
			}
			if err := m.Up(tx); err != nil {
				return fmt.Errorf("%d %s: %w", m.Version, m.Name, err)
			}
			return tx.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, time.Now().UTC()).Error
		})
		if err != nil {
			return fmt.Errorf("store: migrate: %w", err)
		}
	}
	return nil
}

func appliedVersions(tx *gorm.DB) ([]int, error) {
	var vs []int
	err := query(tx.Statement.Context, tx, func(r *sql.Rows) error {
		var v int
		if err := r.Scan(&v); err != nil {
			return err
		}
		vs = append(vs, v)
		return nil
	}, `SELECT version FROM schema_migrations ORDER BY version`)
	return vs, err
}
