package store

// The change schedule (ISO/IEC 20000-1 9.2: a change schedule is created,
// communicated and fed into release planning). The change workflow projects
// each change's window into change_schedule with its transitions (see
// Projection.Schedule); the schedule and the conflict check read it.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// ScheduledChange is one change's implementation window.
type ScheduledChange struct {
	ChangeID string    `json:"change_id"`
	Title    string    `json:"title"`
	Type     string    `json:"type"`   // "standard", "normal", "emergency", ...
	Status   string    `json:"status"` // the change's status when projected
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"` // exclusive: a window ending at 10:00 does not meet one starting at 10:00
	CIs      []string  `json:"cis"`
	Services []string  `json:"services"`
	Seq      int64     `json:"seq"` // set by Project: the seq of the transition that wrote it
}

// Conflict is another change whose window overlaps and whose CIs are the
// same as, or related to, those of the change being scheduled.
type Conflict struct {
	ChangeID string    `json:"change_id"`
	Title    string    `json:"title"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	CI       string    `json:"ci"`     // the other change's CI that is shared or related
	Reason   string    `json:"reason"` // "same CI", or "X depends on Y"
}

// scheduleRow checks the schedule of a projection and fills what Project
// decides: the change id (the case's) and the seq.
func scheduleRow(caseID string, seq int64, in *ScheduledChange) (*ScheduledChange, error) {
	if in == nil {
		return nil, nil
	}
	sc := *in
	if sc.ChangeID == "" {
		sc.ChangeID = caseID
	}
	if sc.ChangeID != caseID {
		return nil, fmt.Errorf("schedule belongs to %s", sc.ChangeID)
	}
	if sc.Start.IsZero() || !sc.End.After(sc.Start) {
		return nil, fmt.Errorf("schedule of %s: window %s to %s: the end must follow the start",
			sc.ChangeID, sc.Start.Format(time.RFC3339), sc.End.Format(time.RFC3339))
	}
	sc.Start, sc.End, sc.Seq = utc(sc.Start), utc(sc.End), seq
	return &sc, nil
}

// jsonStrings encodes a list as a JSON array, [] for none.
func jsonStrings(v []string) (string, error) {
	if v == nil {
		v = []string{}
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// upsertSchedule writes a change's window unless a newer transition already
// did: the same guard as the case row.
func upsertSchedule(tx *gorm.DB, sc *ScheduledChange) error {
	cis, err := jsonStrings(sc.CIs)
	if err != nil {
		return err
	}
	services, err := jsonStrings(sc.Services)
	if err != nil {
		return err
	}
	return tx.Exec(`INSERT INTO change_schedule (change_id, title, type, status, start_at, end_at, cis, services, seq)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (change_id) DO UPDATE SET
			title = excluded.title, type = excluded.type, status = excluded.status,
			start_at = excluded.start_at, end_at = excluded.end_at,
			cis = excluded.cis, services = excluded.services, seq = excluded.seq
		WHERE excluded.seq > change_schedule.seq`,
		sc.ChangeID, sc.Title, sc.Type, sc.Status, sc.Start, sc.End, cis, services, sc.Seq).Error
}

const scheduleColumns = `change_id, title, type, status, start_at, end_at, cis, services, seq`

func scheduledChanges(ctx context.Context, db *gorm.DB, q string, args ...any) ([]ScheduledChange, error) {
	out := []ScheduledChange{}
	err := query(ctx, db, func(r *sql.Rows) error {
		var (
			sc            ScheduledChange
			cis, services string
		)
		if err := r.Scan(&sc.ChangeID, &sc.Title, &sc.Type, &sc.Status, &sc.Start, &sc.End,
			&cis, &services, &sc.Seq); err != nil {
			return err
		}
		sc.Start, sc.End = sc.Start.UTC(), sc.End.UTC()
		if err := json.Unmarshal([]byte(cis), &sc.CIs); err != nil {
			return fmt.Errorf("cis of %s: %w", sc.ChangeID, err)
		}
		if err := json.Unmarshal([]byte(services), &sc.Services); err != nil {
			return fmt.Errorf("services of %s: %w", sc.ChangeID, err)
		}
		out = append(out, sc)
		return nil
	}, q, args...)
	return out, err
}

// ChangeSchedule returns the changes whose window overlaps [from, to), by
// start then change id, whatever their status.
func (s *Store) ChangeSchedule(ctx context.Context, from, to time.Time) ([]ScheduledChange, error) {
	out, err := scheduledChanges(ctx, s.rdb, `SELECT `+scheduleColumns+` FROM change_schedule
		WHERE start_at < ? AND end_at > ? ORDER BY start_at, change_id`, utc(to), utc(from))
	if err != nil {
		return nil, fmt.Errorf("store: change schedule: %w", err)
	}
	return out, nil
}

// ScheduleConflicts returns the other changes, in one of the active statuses
// (any status when active is empty), whose window overlaps [start, end) and
// which touch one of cis, a CI that depends on one of cis, or a CI that one
// of cis depends on; dependence is transitive and follows every relation
// type, as Impact does. There is one conflict per change, naming its most
// direct link (the same CI first, then the shortest dependency), sorted by
// start then change id.
func (s *Store) ScheduleConflicts(ctx context.Context, changeID string, start, end time.Time, cis []string, active []string) ([]Conflict, error) {
	out := []Conflict{}
	mine := slices.Compact(slices.Sorted(slices.Values(cis)))
	if len(mine) == 0 || !end.After(start) {
		return out, nil
	}
	q := `SELECT ` + scheduleColumns + ` FROM change_schedule
		WHERE change_id <> ? AND start_at < ? AND end_at > ?`
	args := []any{changeID, utc(end), utc(start)}
	if len(active) > 0 {
		q += ` AND status IN (` + placeholders(len(active)) + `)`
		for _, st := range active {
			args = append(args, st)
		}
	}
	others, err := scheduledChanges(ctx, s.rdb, q+` ORDER BY start_at, change_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: schedule conflicts of %s: %w", changeID, err)
	}
	if len(others) == 0 {
		return out, nil
	}
	dependents, err := walk(ctx, s.rdb, mine, true)
	if err != nil {
		return nil, fmt.Errorf("store: schedule conflicts of %s: %w", changeID, err)
	}
	dependencies, err := walk(ctx, s.rdb, mine, false)
	if err != nil {
		return nil, fmt.Errorf("store: schedule conflicts of %s: %w", changeID, err)
	}

	for _, o := range others {
		var (
			best      *Conflict
			bestDepth int
		)
		consider := func(ci string, depth int, reason string) {
			if best == nil || depth < bestDepth {
				best = &Conflict{ChangeID: o.ChangeID, Title: o.Title, Start: o.Start, End: o.End, CI: ci, Reason: reason}
				bestDepth = depth
			}
		}
		for _, ci := range slices.Sorted(slices.Values(o.CIs)) {
			if _, same := slices.BinarySearch(mine, ci); same {
				consider(ci, 0, "same CI")
				continue
			}
			// Round a cycle a CI is both a dependent and a dependency:
			// the shorter way names it.
			if r, ok := dependents[ci]; ok {
				consider(ci, r.depth, dependsOn(ci, r.root, through(dependents, ci)))
			}
			if r, ok := dependencies[ci]; ok {
				// Walking down, the path runs from the root to ci; named
				// from the dependent side, the intermediates read reversed.
				path := through(dependencies, ci)
				slices.Reverse(path)
				consider(ci, r.depth, dependsOn(r.root, ci, path))
			}
		}
		if best != nil {
			out = append(out, *best)
		}
	}
	return out, nil
}

// through lists the CIs between id and the root it was reached from,
// nearest to id first.
func through(reached map[string]reach, id string) []string {
	var path []string
	for p := reached[id].parent; ; p = reached[p].parent {
		if _, ok := reached[p]; !ok {
			return path // p is the root
		}
		path = append(path, p)
	}
}

func dependsOn(dependent, dependency string, via []string) string {
	if len(via) == 0 {
		return dependent + " depends on " + dependency
	}
	return dependent + " depends on " + dependency + " through " + strings.Join(via, ", ")
}
