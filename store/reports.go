package store

// Service reports (ISO/IEC 20000-1 6.2, spec §2.3: performance against
// service targets, significant events, workload, nonconformities and their
// causes, complaints and satisfaction). A report covers one service and a
// period [from, to); every figure is read from the case rows, the history
// and the surveys, mostly as SQL aggregates grouped by service, so that a
// report of every service costs the same few queries as a report of one.
//
// What each figure counts:
//
//   - SLA achievement: the incidents and service requests of the service
//     opened in the period, each measured against its response and its
//     resolution target as it stands when the report is made: breached when
//     the target is in the record's sla.breached; met when it is not and the
//     target was achieved (a first response, or resolution; for the response
//     target, a case resolved without a recorded start also counts); pending
//     while neither. A request rejected or cancelled without a breach is not
//     measured. The percentage is met / (met + breached).
//   - Breaches: the sla_breach entries of those same cases, one per case and
//     target (the first: a response breach escalates again at each target
//     while nobody starts), so they add up to the breached figures; each with
//     the case's resolution and the root cause of the known errors of the
//     problems it is linked to.
//   - Workload: incidents and requests opened in the period, and those that
//     moved to resolved (incidents) or fulfilled (requests) in it.
//   - Major incidents: those declared major in the period.
//   - Changes: the changes whose services include the service; raised in
//     the period (and of those, emergency changes), and implemented in the
//     period: completed (successful or not) or backed out while implementing.
//   - Problems: opened and resolved in the period, known errors recorded in
//     it; and problems and known errors still open when the report is made.
//   - Suppliers: the supplier reviews (kind supplier-reviews) whose record's
//     services include the service, by supplier: those opened in the period,
//     how many are closed, their average rating (rated ones: 1–5), and the
//     latest rating recorded on a review opened before the period's end.
//   - Complaints: received and closed in the period, and open when the report
//     is made (received before the period's end).
//   - Satisfaction: surveys sent and answered in the period, the scores.
//   - Corrective actions: those of the service raised before the period's
//     end and not closed when the report is made.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// ServiceReport is the report of one service over [From, To).
type ServiceReport struct {
	Service           string                `json:"service"`
	Name              string                `json:"name"`
	Owner             string                `json:"owner"`
	From              time.Time             `json:"from"`
	To                time.Time             `json:"to"`
	SLA               []TargetAchievement   `json:"sla"`
	Breaches          []Breach              `json:"breaches"`
	Workload          Workload              `json:"workload"`
	MajorIncidents    []MajorIncident       `json:"major_incidents"`
	Changes           ChangeFigures         `json:"changes"`
	Problems          ProblemFigures        `json:"problems"`
	Suppliers         []SupplierPerformance `json:"suppliers"`
	Complaints        ComplaintFigures      `json:"complaints"`
	Satisfaction      SatisfactionFigures   `json:"satisfaction"`
	CorrectiveActions []OpenCorrective      `json:"corrective_actions"`
}

// TargetAchievement is how the cases of one kind opened in the period fared
// against one target, over all priorities (Priority "all") or one.
type TargetAchievement struct {
	Kind     string `json:"kind"`     // "incidents" or "requests"
	Target   string `json:"target"`   // "response" or "resolution"
	Priority string `json:"priority"` // "all", or P1…P4 (incidents only)
	Cases    int64  `json:"cases"`
	Met      int64  `json:"met"`
	Breached int64  `json:"breached"`
	Pending  int64  `json:"pending"`
	// AchievedPct is 100 × met / (met + breached), to one decimal; null
	// when no case has met or breached the target yet.
	AchievedPct *float64 `json:"achieved_pct"`
}

// Breach is one target a case missed.
type Breach struct {
	CaseID   string    `json:"case_id"`
	Kind     string    `json:"kind"`
	Title    string    `json:"title"`
	Priority string    `json:"priority"`
	Target   string    `json:"target"`
	At       time.Time `json:"at"` // when the target passed
	// EscalatedTo is who the breach escalated to: the next group for a
	// response breach, the group's manager for a resolution breach.
	EscalatedTo string `json:"escalated_to"`
	Status      string `json:"status"` // the case's status when the report was made
	Resolution  string `json:"resolution"`
	// Problems are the problems the case is linked to; Cause the root
	// causes of their known errors.
	Problems []string `json:"problems"`
	Cause    string   `json:"cause"`
}

// Flow is what arrived and what was dealt with in the period.
type Flow struct {
	Opened   int64 `json:"opened"`
	Resolved int64 `json:"resolved"`
}

// Workload is the period's incidents and service requests.
type Workload struct {
	Incidents Flow `json:"incidents"`
	Requests  Flow `json:"requests"`
}

// MajorIncident is an incident declared major in the period.
type MajorIncident struct {
	ID         string     `json:"id"`
	Title      string     `json:"title"`
	Priority   string     `json:"priority"`
	Status     string     `json:"status"`
	Manager    string     `json:"manager"`
	DeclaredAt time.Time  `json:"declared_at"`
	ResolvedAt *time.Time `json:"resolved_at"`
	Reviewed   bool       `json:"reviewed"`
}

// ChangeFigures are the changes that touch the service.
type ChangeFigures struct {
	Raised       int64    `json:"raised"`
	Emergency    int64    `json:"emergency"`
	EmergencyPct *float64 `json:"emergency_pct"` // of raised; null when none
	Implemented  int64    `json:"implemented"`
	Successful   int64    `json:"successful"`
	Failed       int64    `json:"failed"`      // completed without success, or backed out
	SuccessPct   *float64 `json:"success_pct"` // of implemented; null when none
}

// ProblemFigures are the problems of the service and their known errors.
type ProblemFigures struct {
	Opened              int64 `json:"opened"`
	Resolved            int64 `json:"resolved"`
	Open                int64 `json:"open"`
	KnownErrorsRecorded int64 `json:"known_errors_recorded"`
	KnownErrorsOpen     int64 `json:"known_errors_open"`
}

// SupplierPerformance is one supplier's reviews.
type SupplierPerformance struct {
	Supplier      string   `json:"supplier"`
	Name          string   `json:"name"` // the supplier's name on its latest review
	Reviews       int64    `json:"reviews"`
	Closed        int64    `json:"closed"`
	AverageRating *float64 `json:"average_rating"` // to two decimals; null when none is rated
	LatestRating  int      `json:"latest_rating"`  // 0 when never rated
	LatestReview  string   `json:"latest_review"`
}

// ComplaintFigures are the complaints about the service.
type ComplaintFigures struct {
	Received int64 `json:"received"`
	Closed   int64 `json:"closed"`
	Open     int64 `json:"open"`
}

// SatisfactionFigures are the period's surveys of the service's incidents
// and requests.
type SatisfactionFigures struct {
	Sent         int64    `json:"sent"`
	Responses    int64    `json:"responses"`
	AverageScore *float64 `json:"average_score"` // to two decimals; null without responses
	// Scores counts the answers by score: Scores[0] is how many gave 1.
	Scores [5]int64 `json:"scores"`
}

// OpenCorrective is a corrective action of the service not closed yet.
type OpenCorrective struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	Status    string    `json:"status"`
	Owner     string    `json:"owner"`
	CreatedAt time.Time `json:"created_at"`
}

// ActiveServices returns the services of the catalogue, as the directory
// holds them, by id.
func (s *Store) ActiveServices(ctx context.Context) ([]Service, error) {
	out := []Service{}
	err := query(ctx, s.rdb, func(r *sql.Rows) error {
		var sv Service
		if err := r.Scan(&sv.ID, &sv.Name, &sv.Owner, &sv.Active); err != nil {
			return err
		}
		out = append(out, sv)
		return nil
	}, `SELECT id, name, owner, active FROM services WHERE active = ? ORDER BY id`, true)
	if err != nil {
		return nil, fmt.Errorf("store: services: %w", err)
	}
	return out, nil
}

// ServiceReports returns one report per service, in the order given, over
// [from, to). Only the services' ids are read; their name and owner are
// copied into the reports.
func (s *Store) ServiceReports(ctx context.Context, services []Service, from, to time.Time) ([]ServiceReport, error) {
	if !from.Before(to) {
		return nil, fmt.Errorf("store: service reports: the period %s to %s is empty", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	b := &reportBuilder{s: s, j: jsonSQL{pg: s.dialect == dialectPostgres}, from: utc(from), to: utc(to), byID: map[string]*ServiceReport{}}
	out := make([]ServiceReport, len(services))
	for i, sv := range services {
		if _, dup := b.byID[sv.ID]; dup {
			return nil, fmt.Errorf("store: service reports: service %s is listed twice", sv.ID)
		}
		out[i] = ServiceReport{
			Service: sv.ID, Name: sv.Name, Owner: sv.Owner, From: b.from, To: b.to,
			Breaches: []Breach{}, MajorIncidents: []MajorIncident{}, Suppliers: []SupplierPerformance{},
			CorrectiveActions: []OpenCorrective{},
		}
		b.byID[sv.ID] = &out[i]
		b.ids = append(b.ids, sv.ID)
	}
	if len(services) == 0 {
		return out, nil
	}
	for _, step := range []struct {
		name string
		run  func(context.Context) error
	}{
		{"sla", b.sla}, {"breaches", b.breaches}, {"workload", b.workload}, {"major incidents", b.majorIncidents},
		{"changes", b.changes}, {"problems", b.problems}, {"suppliers", b.suppliers}, {"complaints", b.complaints},
		{"satisfaction", b.satisfaction}, {"corrective actions", b.corrective},
	} {
		if err := step.run(ctx); err != nil {
			return nil, fmt.Errorf("store: service reports: %s: %w", step.name, err)
		}
	}
	return out, nil
}

// jsonSQL writes the JSON expressions that SQLite and PostgreSQL spell
// differently. Paths and literals are constants of this file, never input.
type jsonSQL struct{ pg bool }

// text is the value at path as text (a number as its digits), NULL when it
// is missing or null.
func (j jsonSQL) text(col string, path ...string) string {
	if j.pg {
		return "(" + col + "::jsonb #>> '{" + strings.Join(path, ",") + "}')"
	}
	return "json_extract(" + col + ", '$." + strings.Join(path, ".") + "')"
}

// number is the value at path as a floating-point number.
func (j jsonSQL) number(col string, path ...string) string {
	if j.pg {
		return "CAST(" + j.text(col, path...) + " AS DOUBLE PRECISION)"
	}
	return "CAST(" + j.text(col, path...) + " AS REAL)"
}

// isTrue holds when the value at path is JSON true.
func (j jsonSQL) isTrue(col string, path ...string) string {
	if j.pg {
		return "COALESCE((" + col + "::jsonb #> '{" + strings.Join(path, ",") + "}') = 'true'::jsonb, FALSE)"
	}
	return "COALESCE(json_type(" + col + ", '$." + strings.Join(path, ".") + "') = 'true', 0)"
}

// elements is a table of the strings of the array at path, with one column
// "value"; none when the path is missing or not an array.
func (j jsonSQL) elements(col, alias string, path ...string) string {
	if j.pg {
		v := col + "::jsonb #> '{" + strings.Join(path, ",") + "}'"
		return "jsonb_array_elements_text(CASE WHEN jsonb_typeof(" + v + ") = 'array' THEN " + v + " ELSE '[]'::jsonb END) AS " + alias + "(value)"
	}
	return "json_each(" + col + ", '$." + strings.Join(path, ".") + "') AS " + alias
}

// contains holds when the array at path has the string literal.
func (j jsonSQL) contains(col, literal string, path ...string) string {
	return "EXISTS (SELECT 1 FROM " + j.elements(col, "e", path...) + " WHERE e.value = '" + literal + "')"
}

// reportBuilder fills the reports of a set of services, one section at a
// time.
type reportBuilder struct {
	s        *Store
	j        jsonSQL
	from, to time.Time
	ids      []string
	byID     map[string]*ServiceReport
}

// in is the placeholder list of the services and svc their values.
func (b *reportBuilder) in() string { return "(" + placeholders(len(b.ids)) + ")" }

func (b *reportBuilder) svc() []any {
	out := make([]any, len(b.ids))
	for i, id := range b.ids {
		out[i] = id
	}
	return out
}

func (b *reportBuilder) query(ctx context.Context, scan func(*sql.Rows) error, q string, args ...any) error {
	return query(ctx, b.s.rdb, scan, q, args...)
}

// countCases counts, per service, the cases of a kind that meet cond.
func (b *reportBuilder) countCases(ctx context.Context, kind, cond string, args ...any) (map[string]int64, error) {
	return b.countByService(ctx, `SELECT service, COUNT(*) FROM cases WHERE kind = ? AND service IN `+b.in()+` AND `+cond+` GROUP BY service`,
		slices.Concat([]any{kind}, b.svc(), args)...)
}

// countEntries counts, per service, the distinct cases of a kind with a
// history entry in the period that meets cond.
func (b *reportBuilder) countEntries(ctx context.Context, kind, cond string, args ...any) (map[string]int64, error) {
	return b.countByService(ctx, `SELECT c.service, COUNT(DISTINCT c.id) FROM history h JOIN cases c ON c.id = h.case_id
		WHERE c.kind = ? AND c.service IN `+b.in()+` AND h.at >= ? AND h.at < ? AND `+cond+`
		GROUP BY c.service`,
		slices.Concat([]any{kind}, b.svc(), []any{b.from, b.to}, args)...)
}

// countByService runs a query of (service, count) rows into a map.
func (b *reportBuilder) countByService(ctx context.Context, q string, args ...any) (map[string]int64, error) {
	out := map[string]int64{}
	err := b.query(ctx, func(r *sql.Rows) error {
		var (
			svc string
			n   int64
		)
		if err := r.Scan(&svc, &n); err != nil {
			return err
		}
		out[svc] = n
		return nil
	}, q, args...)
	return out, err
}

// entered is countEntries of the transitions into a status.
func (b *reportBuilder) entered(ctx context.Context, kind, status string) (map[string]int64, error) {
	return b.countEntries(ctx, kind, `h.to_status = ? AND h.from_status <> h.to_status`, status)
}

func pct(part, whole int64, decimals int) *float64 {
	if whole == 0 {
		return nil
	}
	return round(100*float64(part)/float64(whole), decimals)
}

func round(v float64, decimals int) *float64 {
	f := math.Pow(10, float64(decimals))
	r := math.Round(v*f) / f
	return &r
}

// reportKinds are the kinds measured against SLA targets, and the status
// each reaches when resolved.
var reportKinds = []struct{ kind, resolved string }{{"incidents", "resolved"}, {"requests", "fulfilled"}}

var slaTargets = []string{"response", "resolution"}

func (b *reportBuilder) sla(ctx context.Context) error {
	j := b.j
	done := `(c.status IN ('resolved', 'fulfilled', 'closed'))`
	void := `(c.status IN ('rejected', 'cancelled'))`
	breached := func(target string) string { return j.contains("c.record", target, "sla", "breached") }
	met := map[string]string{
		"response":   "(" + j.text("c.record", "sla", "responded_at") + " IS NOT NULL OR " + done + ")",
		"resolution": done,
	}
	var cols []string
	for _, t := range slaTargets {
		br := breached(t)
		cols = append(cols,
			`SUM(CASE WHEN `+br+` THEN 1 ELSE 0 END)`,
			`SUM(CASE WHEN NOT `+br+` AND `+met[t]+` THEN 1 ELSE 0 END)`,
			`SUM(CASE WHEN NOT `+br+` AND NOT `+met[t]+` AND `+void+` THEN 1 ELSE 0 END)`,
		)
	}
	type key struct{ svc, kind, target, priority string }
	got := map[key]*TargetAchievement{}
	add := func(k key, cases, breached, met, void int64) {
		a := got[k]
		if a == nil {
			a = &TargetAchievement{Kind: k.kind, Target: k.target, Priority: k.priority}
			got[k] = a
		}
		a.Cases += cases - void
		a.Met += met
		a.Breached += breached
		a.Pending += cases - void - met - breached
	}
	err := b.query(ctx, func(r *sql.Rows) error {
		var (
			svc, kind, priority string
			n                   int64
			v                   [6]int64
		)
		if err := r.Scan(&svc, &kind, &priority, &n, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]); err != nil {
			return err
		}
		for i, t := range slaTargets {
			add(key{svc, kind, t, "all"}, n, v[3*i], v[3*i+1], v[3*i+2])
			if priority != "" {
				add(key{svc, kind, t, priority}, n, v[3*i], v[3*i+1], v[3*i+2])
			}
		}
		return nil
	}, `SELECT c.service, c.kind, c.priority, COUNT(*), `+strings.Join(cols, ", ")+`
		FROM cases c
		WHERE c.kind IN ('incidents', 'requests') AND c.service IN `+b.in()+` AND c.created_at >= ? AND c.created_at < ?
		GROUP BY c.service, c.kind, c.priority`,
		slices.Concat(b.svc(), []any{b.from, b.to})...)
	if err != nil {
		return err
	}
	for _, id := range b.ids {
		rep := b.byID[id]
		rep.SLA = []TargetAchievement{}
		for _, rk := range reportKinds {
			for _, t := range slaTargets {
				var rows []TargetAchievement
				for k, a := range got {
					if k.svc == id && k.kind == rk.kind && k.target == t && k.priority != "all" {
						rows = append(rows, *a)
					}
				}
				slices.SortFunc(rows, func(x, y TargetAchievement) int { return strings.Compare(x.Priority, y.Priority) })
				total := TargetAchievement{Kind: rk.kind, Target: t, Priority: "all"}
				if a := got[key{id, rk.kind, t, "all"}]; a != nil {
					total = *a
				}
				for _, a := range append([]TargetAchievement{total}, rows...) {
					a.AchievedPct = pct(a.Met, a.Met+a.Breached, 1)
					rep.SLA = append(rep.SLA, a)
				}
			}
		}
	}
	return nil
}

func (b *reportBuilder) breaches(ctx context.Context) error {
	type linked struct {
		Resolution string `json:"resolution"`
		Links      []struct {
			Kind string `json:"kind"`
			ID   string `json:"id"`
		} `json:"links"`
	}
	type row struct {
		svc string
		Breach
	}
	var rows []row
	seen := map[string]bool{}
	err := b.query(ctx, func(r *sql.Rows) error {
		var (
			x              row
			record, detail []byte
		)
		if err := r.Scan(&x.svc, &x.CaseID, &x.Kind, &x.Title, &x.Priority, &x.Status, &record, &x.At, &detail); err != nil {
			return err
		}
		x.At = x.At.UTC()
		var d struct {
			Target      string `json:"target"`
			ToGroup     string `json:"to_group"`
			EscalatedTo string `json:"escalated_to"`
		}
		if err := json.Unmarshal(detail, &d); err != nil {
			return fmt.Errorf("breach of %s: %w", x.CaseID, err)
		}
		if d.Target == "" || seen[x.CaseID+"/"+d.Target] {
			return nil
		}
		seen[x.CaseID+"/"+d.Target] = true
		x.Target, x.EscalatedTo = d.Target, d.ToGroup
		if x.EscalatedTo == "" {
			x.EscalatedTo = d.EscalatedTo
		}
		var rec linked
		if err := json.Unmarshal(record, &rec); err != nil {
			return fmt.Errorf("record of %s: %w", x.CaseID, err)
		}
		x.Resolution = rec.Resolution
		x.Problems = []string{}
		for _, l := range rec.Links {
			if l.Kind == "problems" && !slices.Contains(x.Problems, l.ID) {
				x.Problems = append(x.Problems, l.ID)
			}
		}
		rows = append(rows, x)
		return nil
	}, `SELECT c.service, c.id, c.kind, c.title, c.priority, c.status, c.record, h.at, h.detail
		FROM cases c JOIN history h ON h.case_id = c.id
		WHERE c.kind IN ('incidents', 'requests') AND c.service IN `+b.in()+` AND c.created_at >= ? AND c.created_at < ?
			AND h.action = 'sla_breach'
		ORDER BY c.service, h.at, c.id, h.seq`,
		slices.Concat(b.svc(), []any{b.from, b.to})...)
	if err != nil {
		return err
	}
	var problems []string
	for _, x := range rows {
		for _, p := range x.Problems {
			if !slices.Contains(problems, p) {
				problems = append(problems, p)
			}
		}
	}
	causes := map[string]string{}
	if len(problems) > 0 {
		known, err := b.s.KnownErrorsOf(ctx, problems)
		if err != nil {
			return err
		}
		for _, k := range known {
			causes[k.ProblemID] = k.RootCause
		}
	}
	for _, x := range rows {
		var cs []string
		for _, p := range x.Problems {
			if c := causes[p]; c != "" {
				cs = append(cs, p+": "+c)
			}
		}
		x.Cause = strings.Join(cs, "; ")
		rep := b.byID[x.svc]
		rep.Breaches = append(rep.Breaches, x.Breach)
	}
	return nil
}

func (b *reportBuilder) workload(ctx context.Context) error {
	for _, rk := range reportKinds {
		opened, err := b.countCases(ctx, rk.kind, `created_at >= ? AND created_at < ?`, b.from, b.to)
		if err != nil {
			return err
		}
		resolved, err := b.entered(ctx, rk.kind, rk.resolved)
		if err != nil {
			return err
		}
		for _, id := range b.ids {
			f := Flow{Opened: opened[id], Resolved: resolved[id]}
			if rk.kind == "incidents" {
				b.byID[id].Workload.Incidents = f
			} else {
				b.byID[id].Workload.Requests = f
			}
		}
	}
	return nil
}

func (b *reportBuilder) majorIncidents(ctx context.Context) error {
	return b.query(ctx, func(r *sql.Rows) error {
		var (
			svc    string
			m      MajorIncident
			record []byte
		)
		if err := r.Scan(&svc, &m.ID, &m.Title, &m.Priority, &m.Status, &record, &m.DeclaredAt); err != nil {
			return err
		}
		m.DeclaredAt = m.DeclaredAt.UTC()
		var rec struct {
			Manager    string          `json:"major_manager"`
			Review     json.RawMessage `json:"major_review"`
			ResolvedAt *time.Time      `json:"resolved_at"`
		}
		if err := json.Unmarshal(record, &rec); err != nil {
			return fmt.Errorf("record of %s: %w", m.ID, err)
		}
		m.Manager, m.ResolvedAt = rec.Manager, rec.ResolvedAt
		m.Reviewed = len(rec.Review) > 0 && string(rec.Review) != "null"
		rep := b.byID[svc]
		// declare_major is refused on a major incident, but the history
		// is the judge: one row per incident.
		if !slices.ContainsFunc(rep.MajorIncidents, func(x MajorIncident) bool { return x.ID == m.ID }) {
			rep.MajorIncidents = append(rep.MajorIncidents, m)
		}
		return nil
	}, `SELECT c.service, c.id, c.title, c.priority, c.status, c.record, h.at
		FROM history h JOIN cases c ON c.id = h.case_id
		WHERE c.kind = 'incidents' AND c.service IN `+b.in()+` AND h.action = 'declare_major' AND h.at >= ? AND h.at < ?
		ORDER BY c.service, h.at, c.id`,
		slices.Concat(b.svc(), []any{b.from, b.to})...)
}

func (b *reportBuilder) changes(ctx context.Context) error {
	j := b.j
	// A change names its services in its record; the case row holds the
	// first only.
	err := b.query(ctx, func(r *sql.Rows) error {
		var (
			svc              string
			raised, emergent int64
		)
		if err := r.Scan(&svc, &raised, &emergent); err != nil {
			return err
		}
		c := &b.byID[svc].Changes
		c.Raised, c.Emergency = raised, emergent
		return nil
	}, `SELECT sv.value, COUNT(DISTINCT c.id), COUNT(DISTINCT CASE WHEN `+j.text("c.record", "type")+` = 'emergency' THEN c.id END)
		FROM cases c CROSS JOIN `+j.elements("c.record", "sv", "services")+`
		WHERE c.kind = 'changes' AND c.created_at >= ? AND c.created_at < ? AND sv.value IN `+b.in()+`
		GROUP BY sv.value`,
		slices.Concat([]any{b.from, b.to}, b.svc())...)
	if err != nil {
		return err
	}
	success := `(CASE WHEN h.action = 'complete' AND ` + j.isTrue("h.detail", "success") + ` THEN 1 ELSE 0 END)`
	err = b.query(ctx, func(r *sql.Rows) error {
		var (
			svc        string
			succ, fail int64
		)
		if err := r.Scan(&svc, &succ, &fail); err != nil {
			return err
		}
		c := &b.byID[svc].Changes
		c.Successful, c.Failed = succ, fail
		return nil
	}, `SELECT sv.value, COUNT(DISTINCT CASE WHEN `+success+` = 1 THEN c.id END), COUNT(DISTINCT CASE WHEN `+success+` = 0 THEN c.id END)
		FROM history h JOIN cases c ON c.id = h.case_id CROSS JOIN `+j.elements("c.record", "sv", "services")+`
		WHERE c.kind = 'changes' AND h.at >= ? AND h.at < ?
			AND (h.action = 'complete' OR (h.action = 'back_out' AND h.from_status = 'implementing'))
			AND sv.value IN `+b.in()+`
		GROUP BY sv.value`,
		slices.Concat([]any{b.from, b.to}, b.svc())...)
	if err != nil {
		return err
	}
	for _, id := range b.ids {
		c := &b.byID[id].Changes
		c.Implemented = c.Successful + c.Failed
		c.EmergencyPct = pct(c.Emergency, c.Raised, 1)
		c.SuccessPct = pct(c.Successful, c.Implemented, 1)
	}
	return nil
}

func (b *reportBuilder) problems(ctx context.Context) error {
	opened, err := b.countCases(ctx, "problems", `created_at >= ? AND created_at < ?`, b.from, b.to)
	if err != nil {
		return err
	}
	open, err := b.countCases(ctx, "problems", `created_at < ? AND status NOT IN ('resolved', 'closed')`, b.to)
	if err != nil {
		return err
	}
	resolved, err := b.entered(ctx, "problems", "resolved")
	if err != nil {
		return err
	}
	recorded, err := b.countEntries(ctx, "problems", `h.action = 'record_known_error'`)
	if err != nil {
		return err
	}
	knownOpen := map[string]int64{}
	err = b.query(ctx, func(r *sql.Rows) error {
		var (
			svc string
			n   int64
		)
		if err := r.Scan(&svc, &n); err != nil {
			return err
		}
		knownOpen[svc] = n
		return nil
	}, `SELECT c.service, COUNT(*) FROM known_errors k JOIN cases c ON c.id = k.problem_id
		WHERE c.service IN `+b.in()+` AND c.created_at < ? AND c.status NOT IN ('resolved', 'closed')
		GROUP BY c.service`,
		slices.Concat(b.svc(), []any{b.to})...)
	if err != nil {
		return err
	}
	for _, id := range b.ids {
		b.byID[id].Problems = ProblemFigures{
			Opened: opened[id], Resolved: resolved[id], Open: open[id],
			KnownErrorsRecorded: recorded[id], KnownErrorsOpen: knownOpen[id],
		}
	}
	return nil
}

func (b *reportBuilder) suppliers(ctx context.Context) error {
	j := b.j
	type perf struct {
		SupplierPerformance
		ratings, sum float64
	}
	got := map[string]map[string]*perf{} // service -> supplier
	err := b.query(ctx, func(r *sql.Rows) error {
		var (
			svc, id  string
			supplier sql.NullString
			name     sql.NullString
			status   sql.NullString
			rating   sql.NullFloat64
			at       time.Time
			num      int64
		)
		if err := r.Scan(&svc, &id, &supplier, &name, &status, &rating, &at, &num); err != nil {
			return err
		}
		if got[svc] == nil {
			got[svc] = map[string]*perf{}
		}
		p := got[svc][supplier.String]
		if p == nil {
			p = &perf{SupplierPerformance: SupplierPerformance{Supplier: supplier.String}}
			got[svc][supplier.String] = p
		}
		if name.String != "" {
			p.Name = name.String
		}
		rated := rating.Valid && rating.Float64 > 0
		if rated {
			// Rows come oldest first: the last rated one is the latest.
			p.LatestRating, p.LatestReview = int(math.Round(rating.Float64)), id
		}
		if at.Before(b.from) {
			return nil
		}
		p.Reviews++
		if status.String == "closed" {
			p.Closed++
		}
		if rated {
			p.ratings++
			p.sum += rating.Float64
		}
		return nil
	}, `SELECT DISTINCT sv.value, c.id, `+j.text("c.record", "supplier")+`, `+j.text("c.record", "supplier_name")+`, `+j.text("c.record", "status")+`, `+j.number("c.record", "rating")+`, c.created_at, c.num
		FROM cases c CROSS JOIN `+j.elements("c.record", "sv", "services")+`
		WHERE c.kind = 'supplier-reviews' AND c.created_at < ? AND sv.value IN `+b.in()+`
		ORDER BY sv.value, c.created_at, c.num`,
		slices.Concat([]any{b.to}, b.svc())...)
	if err != nil {
		return err
	}
	for _, id := range b.ids {
		var list []SupplierPerformance
		for _, p := range got[id] {
			if p.Reviews == 0 && p.LatestRating == 0 {
				continue // nothing in the period and never rated
			}
			if p.ratings > 0 {
				p.AverageRating = round(p.sum/p.ratings, 2)
			}
			list = append(list, p.SupplierPerformance)
		}
		slices.SortFunc(list, func(x, y SupplierPerformance) int { return strings.Compare(x.Supplier, y.Supplier) })
		if list != nil {
			b.byID[id].Suppliers = list
		}
	}
	return nil
}

func (b *reportBuilder) complaints(ctx context.Context) error {
	received, err := b.countCases(ctx, "complaints", `created_at >= ? AND created_at < ?`, b.from, b.to)
	if err != nil {
		return err
	}
	open, err := b.countCases(ctx, "complaints", `created_at < ? AND status <> 'closed'`, b.to)
	if err != nil {
		return err
	}
	closed, err := b.entered(ctx, "complaints", "closed")
	if err != nil {
		return err
	}
	for _, id := range b.ids {
		b.byID[id].Complaints = ComplaintFigures{Received: received[id], Closed: closed[id], Open: open[id]}
	}
	return nil
}

func (b *reportBuilder) satisfaction(ctx context.Context) error {
	err := b.query(ctx, func(r *sql.Rows) error {
		var (
			svc string
			n   int64
		)
		if err := r.Scan(&svc, &n); err != nil {
			return err
		}
		b.byID[svc].Satisfaction.Sent = n
		return nil
	}, `SELECT c.service, COUNT(*) FROM surveys v JOIN cases c ON c.id = v.case_id
		WHERE c.service IN `+b.in()+` AND v.sent_at >= ? AND v.sent_at < ?
		GROUP BY c.service`,
		slices.Concat(b.svc(), []any{b.from, b.to})...)
	if err != nil {
		return err
	}
	err = b.query(ctx, func(r *sql.Rows) error {
		var (
			svc      string
			score, n int64
		)
		if err := r.Scan(&svc, &score, &n); err != nil {
			return err
		}
		if score >= 1 && score <= 5 {
			b.byID[svc].Satisfaction.Scores[score-1] = n
		}
		return nil
	}, `SELECT c.service, v.score, COUNT(*) FROM surveys v JOIN cases c ON c.id = v.case_id
		WHERE c.service IN `+b.in()+` AND v.answered_at >= ? AND v.answered_at < ? AND v.score IS NOT NULL
		GROUP BY c.service, v.score`,
		slices.Concat(b.svc(), []any{b.from, b.to})...)
	if err != nil {
		return err
	}
	for _, id := range b.ids {
		sf := &b.byID[id].Satisfaction
		var sum int64
		for i, n := range sf.Scores {
			sf.Responses += n
			sum += int64(i+1) * n
		}
		if sf.Responses > 0 {
			sf.AverageScore = round(float64(sum)/float64(sf.Responses), 2)
		}
	}
	return nil
}

func (b *reportBuilder) corrective(ctx context.Context) error {
	return b.query(ctx, func(r *sql.Rows) error {
		var (
			svc string
			o   OpenCorrective
		)
		if err := r.Scan(&svc, &o.ID, &o.Title, &o.Status, &o.Owner, &o.CreatedAt); err != nil {
			return err
		}
		o.CreatedAt = o.CreatedAt.UTC()
		rep := b.byID[svc]
		rep.CorrectiveActions = append(rep.CorrectiveActions, o)
		return nil
	}, `SELECT service, id, title, status, assignee, created_at FROM cases
		WHERE kind = 'corrective-actions' AND service IN `+b.in()+` AND created_at < ? AND status <> 'closed'
		ORDER BY service, num`,
		slices.Concat(b.svc(), []any{b.to})...)
}
