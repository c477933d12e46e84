package store

// Known errors (ISO/IEC 20000-1 8.2: record known errors and give incident
// management the current known errors and resolutions). The problem workflow
// projects its known error into known_errors with its transitions (see
// Projection.KnownError); agents search it while working an incident.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"
)

// KnownError is a problem whose root cause, and usually a workaround, is
// known.
type KnownError struct {
	ProblemID  string    `json:"problem_id"`
	Title      string    `json:"title"`
	RootCause  string    `json:"root_cause"`
	Workaround string    `json:"workaround"`
	Status     string    `json:"status"`
	Services   []string  `json:"services"`
	UpdatedAt  time.Time `json:"updated_at"`
	Seq        int64     `json:"seq"` // set by Project: the seq of the transition that wrote it
}

// knownErrorRow checks the known error of a projection and fills what
// Project decides: the problem id (the case's), the seq and, when zero, the
// time of the transition.
func knownErrorRow(caseID string, seq int64, at time.Time, in *KnownError) (*KnownError, error) {
	if in == nil {
		return nil, nil
	}
	ke := *in
	if ke.ProblemID == "" {
		ke.ProblemID = caseID
	}
	if ke.ProblemID != caseID {
		return nil, fmt.Errorf("known error belongs to %s", ke.ProblemID)
	}
	if ke.UpdatedAt.IsZero() {
		ke.UpdatedAt = at
	}
	ke.UpdatedAt, ke.Seq = utc(ke.UpdatedAt), seq
	return &ke, nil
}

// upsertKnownError writes a problem's known error unless a newer transition
// already did: the same guard as the case row.
func upsertKnownError(tx *gorm.DB, ke *KnownError) error {
	services, err := jsonStrings(ke.Services)
	if err != nil {
		return err
	}
	return tx.Exec(`INSERT INTO known_errors (problem_id, title, root_cause, workaround, status, services, updated_at, seq)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (problem_id) DO UPDATE SET
			title = excluded.title, root_cause = excluded.root_cause, workaround = excluded.workaround,
			status = excluded.status, services = excluded.services, updated_at = excluded.updated_at,
			seq = excluded.seq
		WHERE excluded.seq > known_errors.seq`,
		ke.ProblemID, ke.Title, ke.RootCause, ke.Workaround, ke.Status, services, ke.UpdatedAt, ke.Seq).Error
}

// SearchKnownErrors returns up to limit known errors (1..200, default 50)
// whose title, root cause or workaround contains q, ignoring case where the
// database folds it (ASCII on SQLite); text without case, such as Japanese,
// matches as written, and % and _ in q are literal. An empty q lists every
// known error. Newest first.
func (s *Store) SearchKnownErrors(ctx context.Context, q string, limit int) ([]KnownError, error) {
	text := `SELECT problem_id, title, root_cause, workaround, status, services, updated_at, seq FROM known_errors`
	var args []any
	if q != "" {
		text += ` WHERE ` + containsSQL(`title`, `root_cause`, `workaround`)
		p := likePattern(q)
		args = append(args, p, p, p)
	}
	text += ` ORDER BY updated_at DESC, problem_id DESC LIMIT ` + strconv.Itoa(pageLimit(limit))
	out, err := s.knownErrors(ctx, text, args...)
	if err != nil {
		return nil, fmt.Errorf("store: search known errors: %w", err)
	}
	return out, nil
}

// KnownErrorsOf returns the known errors of the problems, in problem order
// of the ids; a problem without a known error is left out.
func (s *Store) KnownErrorsOf(ctx context.Context, problems []string) ([]KnownError, error) {
	if len(problems) == 0 {
		return []KnownError{}, nil
	}
	args := make([]any, len(problems))
	for i, p := range problems {
		args[i] = p
	}
	out, err := s.knownErrors(ctx, `SELECT problem_id, title, root_cause, workaround, status, services, updated_at, seq
		FROM known_errors WHERE problem_id IN (`+placeholders(len(problems))+`) ORDER BY problem_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: known errors of %v: %w", problems, err)
	}
	return out, nil
}

func (s *Store) knownErrors(ctx context.Context, text string, args ...any) ([]KnownError, error) {
	out := []KnownError{}
	err := query(ctx, s.rdb, func(r *sql.Rows) error {
		var (
			ke       KnownError
			services string
		)
		if err := r.Scan(&ke.ProblemID, &ke.Title, &ke.RootCause, &ke.Workaround, &ke.Status,
			&services, &ke.UpdatedAt, &ke.Seq); err != nil {
			return err
		}
		ke.UpdatedAt = ke.UpdatedAt.UTC()
		if err := json.Unmarshal([]byte(services), &ke.Services); err != nil {
			return fmt.Errorf("services of %s: %w", ke.ProblemID, err)
		}
		out = append(out, ke)
		return nil
	}, text, args...)
	return out, err
}

// IncidentsOnServices counts the incidents raised on any of services in
// [from, to): for trend analysis, and for early life support after a change.
func (s *Store) IncidentsOnServices(ctx context.Context, services []string, from, to time.Time) (int64, error) {
	if len(services) == 0 {
		return 0, nil
	}
	args := []any{"incidents"}
	for _, sv := range services {
		args = append(args, sv)
	}
	args = append(args, utc(from), utc(to))
	var n int64
	err := query(ctx, s.rdb, func(r *sql.Rows) error { return r.Scan(&n) },
		`SELECT COUNT(*) FROM cases WHERE kind = ? AND service IN (`+placeholders(len(services))+`)
			AND created_at >= ? AND created_at < ?`, args...)
	if err != nil {
		return 0, fmt.Errorf("store: incidents on services: %w", err)
	}
	return n, nil
}
