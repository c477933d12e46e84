package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Case is the row a workflow projects its state into (table cases). The
// indexed columns serve lists and reports; Record is the workflow's full view,
// which the API returns verbatim.
type Case struct {
	ID        string
	Kind      string // "incidents", "requests", ...
	Num       int64  // the sequence number; lists order by num desc within a kind
	Title     string
	Status    string
	Priority  string
	Service   string
	Assignee  string
	Group     string // column grp
	Major     bool
	Breached  bool
	CreatedBy string
	Caller    string
	CreatedAt time.Time
	UpdatedAt time.Time
	Seq       int64  // the history sequence number of the last transition projected into this row
	Record    []byte // JSON
}

// HistoryEntry is one transition of a case (table history, append-only).
type HistoryEntry struct {
	CaseID string
	Seq    int64
	At     time.Time
	Actor  string
	Action string
	From   string
	To     string
	Detail []byte // a JSON object; empty is stored and returned as {}
}

// Notification is one message in the outbox (table notifications). It is
// keyed by (case, history sequence, recipient, channel), so a retried
// projection never queues a message twice.
type Notification struct {
	ID        int64
	CaseID    string
	Seq       int64
	Recipient string
	Channel   string // "email", "slack"
	Event     string // "sla_warning", "escalation", "major_declared", ...
	Subject   string
	Body      string
	CreatedAt time.Time
	SentAt    *time.Time
	Attempts  int
	LastError string
}

// Projection is everything one transition writes.
type Projection struct {
	Case          Case
	Entry         *HistoryEntry
	Notifications []Notification
	// Schedule, for a change, is its window in the change schedule. Its
	// ChangeID is the case's (empty takes it); Seq is set from the
	// transition.
	Schedule *ScheduledChange
	// KnownError, for a problem, is its known error. Its ProblemID is the
	// case's (empty takes it); Seq is set from the transition and a zero
	// UpdatedAt takes the transition's time.
	KnownError *KnownError
}

// NextID hands out the next id of a kind. The increment is committed before
// NextID returns, so an id is never handed out twice, even across a crash;
// a crash may leave a gap, which is harmless.
func (s *Store) NextID(ctx context.Context, kind, prefix string) (id string, num int64, err error) {
	if kind == "" {
		return "", 0, errors.New("store: NextID: empty kind")
	}
	err = s.write(ctx, func(tx *gorm.DB) error {
		return query(ctx, tx, func(r *sql.Rows) error { return r.Scan(&num) },
			`INSERT INTO sequences (kind, last) VALUES (?, 1)
			 ON CONFLICT (kind) DO UPDATE SET last = sequences.last + 1
			 RETURNING last`, kind)
	})
	if err != nil {
		return "", 0, fmt.Errorf("store: next id for %s: %w", kind, err)
	}
	if num == 0 {
		return "", 0, fmt.Errorf("store: next id for %s: no row returned", kind)
	}
	return formatID(prefix, num), num, nil
}

// formatID renders a case id: formatID("INC", 42) is "INC-000042"; past
// 999999 the number simply grows.
func formatID(prefix string, num int64) string {
	return fmt.Sprintf("%s-%06d", prefix, num)
}

// Project applies one transition in one transaction. It is idempotent and
// order-insensitive, because activities are retried and may complete late:
//   - the case row is inserted, or updated only when p.Case.Seq is greater
//     than the stored seq, so an old transition never overwrites a newer state;
//   - the history entry, if any, is inserted unless (case_id, seq) exists;
//   - each notification is inserted unless (case_id, seq, recipient, channel)
//     exists;
//   - the schedule and the known error, if any, are written under the same
//     seq guard as the case row;
//   - a transition that closes an incident or request sends its caller a
//     satisfaction survey unless one was sent (see sendSurvey).
//
// An entry or notification with an empty CaseID takes p.Case.ID; a
// notification with Seq 0 takes the entry's seq (or p.Case.Seq); a zero
// notification CreatedAt takes the entry's time (or now).
func (s *Store) Project(ctx context.Context, p Projection) error {
	c := p.Case
	if c.ID == "" || c.Kind == "" {
		return errors.New("store: project: case id and kind are required")
	}
	seq := c.Seq
	created := time.Now().UTC()
	var entry *HistoryEntry
	if p.Entry != nil {
		e := *p.Entry
		if e.CaseID == "" {
			e.CaseID = c.ID
		}
		if e.CaseID != c.ID {
			return fmt.Errorf("store: project %s: history entry belongs to %s", c.ID, e.CaseID)
		}
		seq = e.Seq
		if !e.At.IsZero() {
			created = e.At.UTC()
		}
		entry = &e
	}
	schedule, err := scheduleRow(c.ID, seq, p.Schedule)
	if err != nil {
		return fmt.Errorf("store: project %s: %w", c.ID, err)
	}
	knownError, err := knownErrorRow(c.ID, seq, created, p.KnownError)
	if err != nil {
		return fmt.Errorf("store: project %s: %w", c.ID, err)
	}

	err = s.write(ctx, func(tx *gorm.DB) error {
		err := tx.Exec(`INSERT INTO cases (`+caseColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET
				title = excluded.title, status = excluded.status, priority = excluded.priority,
				service = excluded.service, assignee = excluded.assignee, grp = excluded.grp,
				major = excluded.major, breached = excluded.breached, created_by = excluded.created_by,
				caller = excluded.caller, created_at = excluded.created_at, updated_at = excluded.updated_at,
				seq = excluded.seq, record = excluded.record
			WHERE excluded.seq > cases.seq`,
			c.ID, c.Kind, c.Num, c.Title, c.Status, c.Priority, c.Service, c.Assignee, c.Group,
			c.Major, c.Breached, c.CreatedBy, c.Caller, utc(c.CreatedAt), utc(c.UpdatedAt),
			c.Seq, string(c.Record)).Error
		if err != nil {
			return fmt.Errorf("case: %w", err)
		}

		if entry != nil {
			err := tx.Exec(`INSERT INTO history (case_id, seq, at, actor, action, from_status, to_status, detail)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (case_id, seq) DO NOTHING`,
				entry.CaseID, entry.Seq, utc(entry.At), entry.Actor, entry.Action, entry.From, entry.To,
				jsonObject(entry.Detail)).Error
			if err != nil {
				return fmt.Errorf("history %d: %w", entry.Seq, err)
			}
		}

		for _, n := range p.Notifications {
			if n.CaseID == "" {
				n.CaseID = c.ID
			}
			if n.Seq == 0 {
				n.Seq = seq
			}
			if n.CreatedAt.IsZero() {
				n.CreatedAt = created
			}
			if n.Recipient == "" || n.Channel == "" {
				return fmt.Errorf("notification %q: recipient and channel are required", n.Event)
			}
			err := tx.Exec(`INSERT INTO notifications
				(case_id, seq, recipient, channel, event, subject, body, created_at, sent_at, attempts, last_error)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (case_id, seq, recipient, channel) DO NOTHING`,
				n.CaseID, n.Seq, n.Recipient, n.Channel, n.Event, n.Subject, n.Body,
				utc(n.CreatedAt), utcPtr(n.SentAt), n.Attempts, n.LastError).Error
			if err != nil {
				return fmt.Errorf("notification %s/%s: %w", n.Channel, n.Recipient, err)
			}
		}

		// Closing an incident or request sends its caller a satisfaction
		// survey, once, with the closing transition (clause 7.1).
		if surveyDue(c, entry) {
			if err := sendSurvey(tx, c, entry, created); err != nil {
				return fmt.Errorf("survey: %w", err)
			}
		}

		if schedule != nil {
			if err := upsertSchedule(tx, schedule); err != nil {
				return fmt.Errorf("schedule: %w", err)
			}
		}
		if knownError != nil {
			if err := upsertKnownError(tx, knownError); err != nil {
				return fmt.Errorf("known error: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: project %s: %w", c.ID, err)
	}
	s.watch.projected(c.ID)
	return nil
}

func jsonObject(b []byte) string {
	if len(strings.TrimSpace(string(b))) == 0 {
		return "{}"
	}
	return string(b)
}

const caseColumns = `id, kind, num, title, status, priority, service, assignee, grp, major, breached,
	created_by, caller, created_at, updated_at, seq, record`

func scanCase(r *sql.Rows) (Case, error) {
	var c Case
	err := r.Scan(&c.ID, &c.Kind, &c.Num, &c.Title, &c.Status, &c.Priority, &c.Service, &c.Assignee,
		&c.Group, &c.Major, &c.Breached, &c.CreatedBy, &c.Caller, &c.CreatedAt, &c.UpdatedAt,
		&c.Seq, &c.Record)
	c.CreatedAt = c.CreatedAt.UTC()
	c.UpdatedAt = c.UpdatedAt.UTC()
	return c, err
}

// GetCase returns the case row, or ErrNotFound.
func (s *Store) GetCase(ctx context.Context, id string) (Case, error) {
	var (
		c     Case
		found bool
	)
	err := query(ctx, s.rdb, func(r *sql.Rows) (err error) {
		c, err = scanCase(r)
		found = true
		return err
	}, `SELECT `+caseColumns+` FROM cases WHERE id = ?`, id)
	if err != nil {
		return Case{}, fmt.Errorf("store: get case %s: %w", id, err)
	}
	if !found {
		return Case{}, fmt.Errorf("store: case %s: %w", id, ErrNotFound)
	}
	return c, nil
}

// ListQuery selects cases. Empty fields do not filter.
type ListQuery struct {
	Kind     string
	Statuses []string
	Priority string
	Service  string
	Assignee string
	Group    string
	Major    *bool
	Breached *bool
	RaisedBy string // created_by = RaisedBy OR caller = RaisedBy
	Limit    int    // 1..200, default 50; larger is capped at 200
	Cursor   string // from a previous NextCursor
}

const (
	defaultLimit = 50
	maxLimit     = 200
)

// cursor is the position after the last case of a page: its num and id.
// Within a kind num alone orders the list; id breaks ties across kinds.
type cursor struct {
	num int64
	id  string
}

func (c cursor) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte("c1:" + strconv.FormatInt(c.num, 10) + ":" + c.id))
}

func decodeCursor(s string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, fmt.Errorf("%w: %q", ErrBadCursor, s)
	}
	parts := strings.SplitN(string(b), ":", 3)
	if len(parts) != 3 || parts[0] != "c1" || parts[2] == "" {
		return cursor{}, fmt.Errorf("%w: %q", ErrBadCursor, s)
	}
	n, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || n < 0 {
		return cursor{}, fmt.Errorf("%w: %q", ErrBadCursor, s)
	}
	return cursor{num: n, id: parts[2]}, nil
}

// ListCases returns one page of cases, newest first, and the cursor of the
// next page ("" after the last page). A malformed cursor is ErrBadCursor.
func (s *Store) ListCases(ctx context.Context, q ListQuery) (items []Case, nextCursor string, err error) {
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = defaultLimit
	case limit > maxLimit:
		limit = maxLimit
	}
	var after *cursor
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor)
		if err != nil {
			return nil, "", err
		}
		after = &c
	}

	sqlText, args := listSQL(q, after, limit)
	items = []Case{}
	err = query(ctx, s.rdb, func(r *sql.Rows) error {
		c, err := scanCase(r)
		items = append(items, c)
		return err
	}, sqlText, args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list cases: %w", err)
	}
	if len(items) > limit {
		items = items[:limit]
		last := items[limit-1]
		nextCursor = cursor{num: last.Num, id: last.ID}.encode()
	}
	return items, nextCursor, nil
}

// maxBranches bounds how many index walks one list query merges.
const maxBranches = 16

// listSQL builds the query of one page of ListCases, reading limit+1 rows so
// that the caller knows whether another page follows.
//
// Every equality filter has a (kind, column, num) index, so a single filter
// reads one page by walking an index in num order. Two filters cannot be
// walked that way: "created_by = u OR caller = u", and "status IN (a, b)"
// when nothing else narrows the list. For those the query becomes a UNION
// ALL of branches, one per side of the OR or per status, each reading at
// most one page from its own index, merged and cut to one page. Without
// this, SQLite at 100,000 cases scanned the whole kind for two rare statuses
// (60 ms a page) and sorted thousands of rows for RaisedBy (35 ms).
func listSQL(q ListQuery, after *cursor, limit int) (string, []any) {
	var (
		where []string
		args  []any
	)
	eq := func(col string, v any) {
		where = append(where, col+" = ?")
		args = append(args, v)
	}
	if q.Kind != "" {
		eq("kind", q.Kind)
	}
	// otherIndex: a filter other than kind and status has its own index.
	otherIndex := false
	for _, f := range []struct{ col, v string }{
		{"priority", q.Priority}, {"service", q.Service}, {"assignee", q.Assignee}, {"grp", q.Group},
	} {
		if f.v != "" {
			eq(f.col, f.v)
			otherIndex = true
		}
	}
	if q.Major != nil {
		eq("major", *q.Major)
		otherIndex = true
	}
	if q.Breached != nil {
		eq("breached", *q.Breached)
		otherIndex = true
	}
	// Within a kind num is unique; across kinds id breaks ties.
	order := "num DESC"
	if q.Kind == "" {
		order = "num DESC, id DESC"
	}
	if after != nil {
		if q.Kind != "" {
			where = append(where, "num < ?")
			args = append(args, after.num)
		} else {
			where = append(where, "(num < ? OR (num = ? AND id < ?))")
			args = append(args, after.num, after.num, after.id)
		}
	}

	type branch struct {
		where []string
		args  []any
	}
	var statuses []branch
	distinct := slices.Compact(slices.Sorted(slices.Values(q.Statuses)))
	// With another equality filter, that filter's index is walked and the
	// statuses are checked on the way; one branch per status would instead
	// walk each status index through every row of that status (measured:
	// open statuses + P1 + a service went from 7 to 80 ms on SQLite).
	otherIndex = otherIndex || q.RaisedBy != ""
	switch {
	case len(distinct) == 0:
		statuses = []branch{{}}
	case len(distinct) == 1 || len(distinct) > maxBranches || otherIndex:
		b := branch{where: []string{"status IN (" + placeholders(len(distinct)) + ")"}}
		for _, st := range distinct {
			b.args = append(b.args, st)
		}
		statuses = []branch{b}
	default:
		for _, st := range distinct {
			statuses = append(statuses, branch{[]string{"status = ?"}, []any{st}})
		}
	}
	raised := []branch{{}}
	if q.RaisedBy != "" {
		raised = []branch{
			{[]string{"created_by = ?"}, []any{q.RaisedBy}},
			// created_by <> ? keeps a case raised and called by the same
			// person out of the second branch: UNION ALL needs no dedup.
			{[]string{"caller = ?", "created_by <> ?"}, []any{q.RaisedBy, q.RaisedBy}},
		}
	}
	var branches []branch
	for _, st := range statuses {
		for _, r := range raised {
			branches = append(branches, branch{
				where: slices.Concat(where, st.where, r.where),
				args:  slices.Concat(args, st.args, r.args),
			})
		}
	}

	page := ` ORDER BY ` + order + ` LIMIT ` + strconv.Itoa(limit+1)
	selectWhere := func(b branch) string {
		text := `SELECT ` + caseColumns + ` FROM cases`
		if len(b.where) > 0 {
			text += ` WHERE ` + strings.Join(b.where, " AND ")
		}
		return text
	}
	if len(branches) == 1 {
		return selectWhere(branches[0]) + page, branches[0].args
	}
	var (
		parts   []string
		allArgs []any
	)
	for i, b := range branches {
		parts = append(parts, `SELECT * FROM (`+selectWhere(b)+page+`) AS b`+strconv.Itoa(i))
		allArgs = append(allArgs, b.args...)
	}
	return `SELECT ` + caseColumns + ` FROM (` + strings.Join(parts, ` UNION ALL `) + `) AS merged` + page, allArgs
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// CountCases counts the cases of a kind (all kinds when kind is ""),
// optionally only those in the given statuses.
func (s *Store) CountCases(ctx context.Context, kind string, statuses ...string) (int64, error) {
	var (
		where []string
		args  []any
	)
	if kind != "" {
		where = append(where, "kind = ?")
		args = append(args, kind)
	}
	if len(statuses) > 0 {
		where = append(where, "status IN ("+placeholders(len(statuses))+")")
		for _, st := range statuses {
			args = append(args, st)
		}
	}
	q := `SELECT COUNT(*) FROM cases`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	var n int64
	if err := query(ctx, s.rdb, func(r *sql.Rows) error { return r.Scan(&n) }, q, args...); err != nil {
		return 0, fmt.Errorf("store: count cases: %w", err)
	}
	return n, nil
}

// History returns the entries of a case, oldest first.
func (s *Store) History(ctx context.Context, caseID string) ([]HistoryEntry, error) {
	out := []HistoryEntry{}
	err := query(ctx, s.rdb, func(r *sql.Rows) error {
		var e HistoryEntry
		if err := r.Scan(&e.CaseID, &e.Seq, &e.At, &e.Actor, &e.Action, &e.From, &e.To, &e.Detail); err != nil {
			return err
		}
		e.At = e.At.UTC()
		out = append(out, e)
		return nil
	}, `SELECT case_id, seq, at, actor, action, from_status, to_status, detail
		FROM history WHERE case_id = ? ORDER BY seq`, caseID)
	if err != nil {
		return nil, fmt.Errorf("store: history of %s: %w", caseID, err)
	}
	return out, nil
}

const notificationColumns = `id, case_id, seq, recipient, channel, event, subject, body, created_at, sent_at, attempts, last_error`

func scanNotification(r *sql.Rows) (Notification, error) {
	var (
		n    Notification
		sent sql.NullTime
	)
	err := r.Scan(&n.ID, &n.CaseID, &n.Seq, &n.Recipient, &n.Channel, &n.Event, &n.Subject, &n.Body,
		&n.CreatedAt, &sent, &n.Attempts, &n.LastError)
	n.CreatedAt = n.CreatedAt.UTC()
	if sent.Valid {
		t := sent.Time.UTC()
		n.SentAt = &t
	}
	return n, err
}

func (s *Store) notifications(ctx context.Context, q string, args ...any) ([]Notification, error) {
	out := []Notification{}
	err := query(ctx, s.rdb, func(r *sql.Rows) error {
		n, err := scanNotification(r)
		out = append(out, n)
		return err
	}, q, args...)
	return out, err
}

// Notifications returns every notification of a case in the order queued.
func (s *Store) Notifications(ctx context.Context, caseID string) ([]Notification, error) {
	out, err := s.notifications(ctx, `SELECT `+notificationColumns+` FROM notifications
		WHERE case_id = ? ORDER BY id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("store: notifications of %s: %w", caseID, err)
	}
	return out, nil
}

// PendingNotifications returns up to limit unsent notifications of a channel
// (every channel when channel is ""), oldest first.
func (s *Store) PendingNotifications(ctx context.Context, channel string, limit int) ([]Notification, error) {
	if limit <= 0 {
		limit = 100
	}
	q := `SELECT ` + notificationColumns + ` FROM notifications WHERE sent_at IS NULL`
	var args []any
	if channel != "" {
		q += ` AND channel = ?`
		args = append(args, channel)
	}
	q += ` ORDER BY id LIMIT ` + strconv.Itoa(limit)
	out, err := s.notifications(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: pending notifications: %w", err)
	}
	return out, nil
}

// MarkNotificationSent records the delivery of a notification. Marking one
// that is already sent keeps the first time; an unknown id is ErrNotFound.
func (s *Store) MarkNotificationSent(ctx context.Context, id int64, at time.Time) error {
	return s.updateNotification(ctx, id,
		`UPDATE notifications SET sent_at = ?, attempts = attempts + 1, last_error = ''
		 WHERE id = ? AND sent_at IS NULL`, utc(at), id)
}

// MarkNotificationFailed records a failed delivery attempt; the notification
// stays pending.
func (s *Store) MarkNotificationFailed(ctx context.Context, id int64, reason string) error {
	return s.updateNotification(ctx, id,
		`UPDATE notifications SET attempts = attempts + 1, last_error = ?
		 WHERE id = ? AND sent_at IS NULL`, reason, id)
}

func (s *Store) updateNotification(ctx context.Context, id int64, q string, args ...any) error {
	err := s.write(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(q, args...)
		if res.Error != nil || res.RowsAffected > 0 {
			return res.Error
		}
		var n int64
		if err := query(ctx, tx, func(r *sql.Rows) error { return r.Scan(&n) },
			`SELECT COUNT(*) FROM notifications WHERE id = ?`, id); err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: notification %d: %w", id, err)
	}
	return nil
}
