package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// IncidentTally counts the incidents of one service and priority opened in
// a period: all of them, those that breached an SLA target, and the major
// ones. A supplier review reads its period's figures from these.
type IncidentTally struct {
	Service   string `json:"service"`
	Priority  string `json:"priority"`
	Incidents int64  `json:"incidents"`
	Breached  int64  `json:"breached"`
	// Pending are those neither breached nor resolved: their targets can
	// still be met or missed.
	Pending int64 `json:"pending"`
	Major   int64 `json:"major"`
}

// IncidentTallies counts the incidents opened on the services in [from, to),
// by service and priority, in that order.
func (s *Store) IncidentTallies(ctx context.Context, services []string, from, to time.Time) ([]IncidentTally, error) {
	if len(services) == 0 {
		return nil, nil
	}
	args := []any{"incidents"}
	for _, sv := range services {
		args = append(args, sv)
	}
	args = append(args, utc(from), utc(to))
	var out []IncidentTally
	err := query(ctx, s.rdb, func(r *sql.Rows) error {
		var t IncidentTally
		if err := r.Scan(&t.Service, &t.Priority, &t.Incidents, &t.Breached, &t.Pending, &t.Major); err != nil {
			return err
		}
		out = append(out, t)
		return nil
	}, `SELECT service, priority, COUNT(*),
			SUM(CASE WHEN breached THEN 1 ELSE 0 END),
			SUM(CASE WHEN NOT breached AND status NOT IN ('resolved', 'closed') THEN 1 ELSE 0 END),
			SUM(CASE WHEN major THEN 1 ELSE 0 END)
		FROM cases WHERE kind = ? AND service IN (`+placeholders(len(services))+`)
			AND created_at >= ? AND created_at < ?
		GROUP BY service, priority ORDER BY service, priority`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: incident tallies: %w", err)
	}
	return out, nil
}
