package store

import (
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"
)

// March 2026 is the period of the report tests.
var (
	rptFrom = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	rptTo   = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
)

// rptDay is 08:00 on a day of March 2026 (day 0 and below reach into
// February, 32 and above into April).
func rptDay(d int) time.Time { return rptFrom.AddDate(0, 0, d-1).Add(8 * time.Hour) }

// rptFixture projects cases the way the workflows do: a row with its record,
// one history entry per transition.
type rptFixture struct {
	t     *testing.T
	s     *Store
	cases map[string]*Case
	recs  map[string]map[string]any
	num   map[string]int64
}

func newRptFixture(t *testing.T, s *Store) *rptFixture {
	return &rptFixture{t: t, s: s, cases: map[string]*Case{}, recs: map[string]map[string]any{}, num: map[string]int64{}}
}

var rptPrefixes = map[string]string{
	"incidents": "INC", "requests": "REQ", "changes": "CHG", "problems": "PRB", "complaints": "CMP",
	"corrective-actions": "CAPA", "supplier-reviews": "SRV",
}

// open projects a new case; rec holds the record's fields besides id, kind
// and status.
func (f *rptFixture) open(kind, service, priority, status string, at time.Time, rec map[string]any) string {
	f.t.Helper()
	f.num[kind]++
	id := formatID(rptPrefixes[kind], f.num[kind])
	r := map[string]any{"id": id, "kind": kind, "title": "case " + id, "status": status, "links": []any{}}
	maps.Copy(r, rec)
	c := &Case{ID: id, Kind: kind, Num: f.num[kind], Title: "case " + id, Status: status, Priority: priority,
		Service: service, CreatedBy: "alice", Caller: "rita", CreatedAt: at, UpdatedAt: at}
	if kind == "supplier-reviews" || kind == "changes" || kind == "corrective-actions" {
		c.Caller = ""
	}
	f.cases[id], f.recs[id] = c, r
	f.project(id, at, "open", "", nil, nil)
	return id
}

// step projects the next transition of a case: its record patched with rec,
// and status (unchanged when "").
func (f *rptFixture) step(id string, at time.Time, action, status string, detail, rec map[string]any) {
	f.t.Helper()
	f.stepKnown(id, at, action, status, detail, rec, nil)
}

func (f *rptFixture) stepKnown(id string, at time.Time, action, status string, detail, rec map[string]any, ke *KnownError) {
	f.t.Helper()
	c := f.cases[id]
	from := c.Status
	if status != "" {
		c.Status = status
		f.recs[id]["status"] = status
	}
	maps.Copy(f.recs[id], rec)
	c.UpdatedAt = at
	f.project(id, at, action, from, detail, ke)
}

func (f *rptFixture) project(id string, at time.Time, action, from string, detail map[string]any, ke *KnownError) {
	f.t.Helper()
	c := f.cases[id]
	c.Seq++
	rec, err := json.Marshal(f.recs[id])
	if err != nil {
		f.t.Fatal(err)
	}
	c.Record = rec
	d := []byte("{}")
	if detail != nil {
		if d, err = json.Marshal(detail); err != nil {
			f.t.Fatal(err)
		}
	}
	err = f.s.Project(f.t.Context(), Projection{
		Case:       *c,
		Entry:      &HistoryEntry{Seq: c.Seq, At: at, Actor: "alice", Action: action, From: from, To: c.Status, Detail: d},
		KnownError: ke,
	})
	if err != nil {
		f.t.Fatalf("project %s %s: %v", id, action, err)
	}
}

func rptSLA(responded *time.Time, breached ...string) map[string]any {
	if breached == nil {
		breached = []string{}
	}
	return map[string]any{"responded_at": responded, "breached": breached}
}

func rptPtr[T any](v T) *T { return &v }

// seedReportCases lays out March 2026 for services email and payroll; the
// comments say how each case counts.
func seedReportCases(t *testing.T, s *Store) *rptFixture {
	f := newRptFixture(t, s)
	ctx := t.Context()

	// Problems first, so incidents can link to them.
	prb1 := f.open("problems", "email", "P2", "logged", rptDay(2), nil) // opened; open; known error recorded and open
	f.stepKnown(prb1, rptDay(3), "record_known_error", "known_error", nil, map[string]any{"root_cause": "disk full"},
		&KnownError{Title: "Mail store full", RootCause: "disk full", Workaround: "purge", Status: "known_error", Services: []string{"email"}})
	prb2 := f.open("problems", "email", "P3", "investigating", rptDay(-40), nil) // resolved in the period
	f.step(prb2, rptDay(20), "resolve", "resolved", nil, nil)

	// INC-1 email P1: response breached (twice in the history), resolved and
	// closed by its caller; linked to PRB-1.
	inc1 := f.open("incidents", "email", "P1", "logged", rptDay(2), map[string]any{"sla": rptSLA(nil), "resolution": ""})
	f.step(inc1, rptDay(2).Add(15*time.Minute), "sla_breach", "", map[string]any{"target": "response", "to_group": "second-line"},
		map[string]any{"sla": rptSLA(nil, "response")})
	f.step(inc1, rptDay(2).Add(30*time.Minute), "sla_breach", "", map[string]any{"target": "response", "to_group": "third-line"}, nil)
	f.step(inc1, rptDay(2).Add(40*time.Minute), "start", "in_progress", nil, map[string]any{"sla": rptSLA(rptPtr(rptDay(2).Add(40*time.Minute)), "response")})
	f.step(inc1, rptDay(2).Add(50*time.Minute), "link", "", nil, map[string]any{"links": []any{map[string]any{"kind": "problems", "id": prb1, "relation": "problem"}}})
	f.step(inc1, rptDay(2).Add(2*time.Hour), "resolve", "resolved", nil, map[string]any{"resolution": "purged the mail store"})
	f.step(inc1, rptDay(3), "confirm", "closed", nil, nil)

	// INC-2 email P3: responded, still in progress.
	inc2 := f.open("incidents", "email", "P3", "logged", rptDay(5), map[string]any{"sla": rptSLA(nil)})
	f.step(inc2, rptDay(5).Add(time.Hour), "start", "in_progress", nil, map[string]any{"sla": rptSLA(rptPtr(rptDay(5).Add(time.Hour)))})

	// INC-3 email P1: both targets breached, declared major, resolved.
	inc3 := f.open("incidents", "email", "P1", "logged", rptDay(10), map[string]any{"sla": rptSLA(nil)})
	f.step(inc3, rptDay(10).Add(5*time.Minute), "declare_major", "", map[string]any{"manager": "mona"},
		map[string]any{"major": true, "major_manager": "mona", "major_review": nil})
	f.step(inc3, rptDay(10).Add(15*time.Minute), "sla_breach", "", map[string]any{"target": "response", "to_group": "second-line"},
		map[string]any{"sla": rptSLA(nil, "response")})
	f.step(inc3, rptDay(10).Add(4*time.Hour), "sla_breach", "", map[string]any{"target": "resolution", "escalated_to": "mona"},
		map[string]any{"sla": rptSLA(nil, "response", "resolution")})
	f.step(inc3, rptDay(11), "resolve", "resolved", nil, map[string]any{"resolution": "failed over", "resolved_at": rptDay(11)})

	// INC-4 email P4, opened in February, resolved on 1 March: workload only.
	inc4 := f.open("incidents", "email", "P4", "logged", rptDay(-5), map[string]any{"sla": rptSLA(nil)})
	f.step(inc4, rptDay(1), "resolve", "resolved", nil, nil)
	// INC-5 payroll P2: pending both targets. INC-6 email, in April.
	f.open("incidents", "payroll", "P2", "logged", rptDay(3), map[string]any{"sla": rptSLA(nil)})
	f.open("incidents", "email", "P1", "logged", rptDay(33), map[string]any{"sla": rptSLA(nil, "response")})

	// Requests: REQ-1 fulfilled without a start (both met) and closed;
	// REQ-2 rejected (not measured); REQ-3 cancelled after a response
	// breach (response breached, resolution not measured).
	req1 := f.open("requests", "email", "", "logged", rptDay(4), map[string]any{"sla": rptSLA(nil)})
	f.step(req1, rptDay(4).Add(time.Hour), "fulfil", "fulfilled", nil, map[string]any{"resolution": "done"})
	f.step(req1, rptDay(5), "confirm", "closed", nil, nil)
	req2 := f.open("requests", "email", "", "awaiting_approval", rptDay(6), map[string]any{"sla": rptSLA(nil)})
	f.step(req2, rptDay(6).Add(time.Hour), "reject", "rejected", nil, nil)
	req3 := f.open("requests", "email", "", "logged", rptDay(7), map[string]any{"sla": rptSLA(nil)})
	f.step(req3, rptDay(7).Add(time.Hour), "sla_breach", "", map[string]any{"target": "response", "escalated_to": "mona"},
		map[string]any{"sla": rptSLA(nil, "response")})
	f.step(req3, rptDay(8), "cancel", "cancelled", nil, nil)

	// Changes.
	chg := func(services []string, typ string, at time.Time) string {
		return f.open("changes", services[0], "", "requested", at, map[string]any{"type": typ, "services": services})
	}
	chg1 := chg([]string{"email", "payroll"}, "emergency", rptDay(8)) // both: raised, emergency, successful
	f.step(chg1, rptDay(8).Add(time.Hour), "implement", "implementing", nil, nil)
	f.step(chg1, rptDay(9), "complete", "completed", map[string]any{"success": true, "notes": "ok"}, nil)
	chg2 := chg([]string{"email"}, "normal", rptDay(12)) // failed
	f.step(chg2, rptDay(12).Add(time.Hour), "implement", "implementing", nil, nil)
	f.step(chg2, rptDay(13), "complete", "failed", map[string]any{"success": false, "notes": "broke"}, nil)
	f.step(chg2, rptDay(13).Add(time.Hour), "back_out", "backed_out", nil, nil) // from failed: the same failure
	chg3 := chg([]string{"email"}, "standard", rptDay(14))                      // backed out while implementing: failed
	f.step(chg3, rptDay(14).Add(time.Hour), "implement", "implementing", nil, nil)
	f.step(chg3, rptDay(15), "back_out", "backed_out", nil, nil)
	chg4 := chg([]string{"payroll"}, "normal", rptDay(-20)) // raised before, implemented in the period
	f.step(chg4, rptDay(2), "implement", "implementing", nil, nil)
	f.step(chg4, rptDay(2).Add(time.Hour), "complete", "completed", map[string]any{"success": true}, nil)
	chg([]string{"email", "email"}, "normal", rptDay(20)) // listed twice, counted once

	// Supplier reviews.
	srv := func(supplier string, services []string, at time.Time, status string, rating int) {
		f.open("supplier-reviews", services[0], "", status, at,
			map[string]any{"supplier": supplier, "supplier_name": strings.ToUpper(supplier[:1]) + supplier[1:] + " Ltd", "services": services, "rating": rating})
	}
	srv("acme", []string{"email"}, rptDay(-50), "closed", 4)            // before: latest rating until SRV-2
	srv("acme", []string{"email"}, rptDay(10), "closed", 2)             // in the period, rated
	srv("acme", []string{"email"}, rptDay(20), "open", 0)               // in the period, open
	srv("globex", []string{"email", "payroll"}, rptDay(5), "closed", 5) // both services
	srv("acme", []string{"email"}, rptDay(35), "closed", 1)             // after the period
	srv("initech", []string{"payroll"}, rptDay(-100), "open", 0)        // never rated, nothing in the period

	// Complaints.
	cmp1 := f.open("complaints", "email", "", "received", rptDay(2), nil) // received and closed
	f.step(cmp1, rptDay(9), "close", "closed", nil, nil)
	f.open("complaints", "email", "", "investigating", rptDay(15), nil) // received, open
	cmp3 := f.open("complaints", "email", "", "received", rptDay(-20), nil)
	f.step(cmp3, rptDay(-10), "close", "closed", nil, nil) // all in February

	// Corrective actions.
	f.open("corrective-actions", "email", "", "planned", rptDay(1), nil) // open
	capa2 := f.open("corrective-actions", "email", "", "raised", rptDay(2), nil)
	f.step(capa2, rptDay(3), "verify", "closed", nil, nil)
	f.open("corrective-actions", "payroll", "", "raised", rptDay(4), nil)
	f.open("corrective-actions", "email", "", "raised", rptDay(40), nil) // raised after the period

	// The survey of INC-1 is answered; that of REQ-1 is not.
	if _, err := s.AnswerSurvey(ctx, inc1, 4, "quick enough", rptDay(4)); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestServiceReports(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		seedReportCases(t, s)
		reps, err := s.ServiceReports(ctx, []Service{{ID: "email", Name: "Corporate email", Owner: "mona"}, {ID: "payroll", Name: "Payroll"}, {ID: "fax"}}, rptFrom, rptTo)
		if err != nil {
			t.Fatal(err)
		}
		if len(reps) != 3 || reps[0].Service != "email" || reps[1].Service != "payroll" || reps[2].Service != "fax" {
			t.Fatalf("reports %+v", reps)
		}
		email, payroll, fax := reps[0], reps[1], reps[2]
		if email.Name != "Corporate email" || email.Owner != "mona" || !email.From.Equal(rptFrom) || !email.To.Equal(rptTo) {
			t.Errorf("heading %+v", email)
		}

		ach := func(kind, target, prio string, cases, met, breached, pending int64, p *float64) TargetAchievement {
			return TargetAchievement{Kind: kind, Target: target, Priority: prio, Cases: cases, Met: met, Breached: breached, Pending: pending, AchievedPct: p}
		}
		wantSLA := []TargetAchievement{
			ach("incidents", "response", "all", 3, 1, 2, 0, rptPtr(33.3)),
			ach("incidents", "response", "P1", 2, 0, 2, 0, rptPtr(0.0)),
			ach("incidents", "response", "P3", 1, 1, 0, 0, rptPtr(100.0)),
			ach("incidents", "resolution", "all", 3, 1, 1, 1, rptPtr(50.0)),
			ach("incidents", "resolution", "P1", 2, 1, 1, 0, rptPtr(50.0)),
			ach("incidents", "resolution", "P3", 1, 0, 0, 1, nil),
			ach("requests", "response", "all", 2, 1, 1, 0, rptPtr(50.0)),
			ach("requests", "resolution", "all", 1, 1, 0, 0, rptPtr(100.0)),
		}
		requireJSON(t, "email sla", wantSLA, email.SLA)

		wantBreaches := []Breach{
			{CaseID: "INC-000001", Kind: "incidents", Title: "case INC-000001", Priority: "P1", Target: "response",
				At: rptDay(2).Add(15 * time.Minute), EscalatedTo: "second-line", Status: "closed", Resolution: "purged the mail store",
				Problems: []string{"PRB-000001"}, Cause: "PRB-000001: disk full"},
			{CaseID: "REQ-000003", Kind: "requests", Title: "case REQ-000003", Target: "response",
				At: rptDay(7).Add(time.Hour), EscalatedTo: "mona", Status: "cancelled", Problems: []string{}},
			{CaseID: "INC-000003", Kind: "incidents", Title: "case INC-000003", Priority: "P1", Target: "response",
				At: rptDay(10).Add(15 * time.Minute), EscalatedTo: "second-line", Status: "resolved", Resolution: "failed over", Problems: []string{}},
			{CaseID: "INC-000003", Kind: "incidents", Title: "case INC-000003", Priority: "P1", Target: "resolution",
				At: rptDay(10).Add(4 * time.Hour), EscalatedTo: "mona", Status: "resolved", Resolution: "failed over", Problems: []string{}},
		}
		requireJSON(t, "email breaches", wantBreaches, email.Breaches)
		requireJSON(t, "email workload", Workload{Incidents: Flow{Opened: 3, Resolved: 3}, Requests: Flow{Opened: 3, Resolved: 1}}, email.Workload)
		requireJSON(t, "email major incidents", []MajorIncident{{ID: "INC-000003", Title: "case INC-000003", Priority: "P1", Status: "resolved",
			Manager: "mona", DeclaredAt: rptDay(10).Add(5 * time.Minute), ResolvedAt: rptPtr(rptDay(11))}}, email.MajorIncidents)
		requireJSON(t, "email changes", ChangeFigures{Raised: 4, Emergency: 1, EmergencyPct: rptPtr(25.0), Implemented: 3, Successful: 1, Failed: 2, SuccessPct: rptPtr(33.3)}, email.Changes)
		requireJSON(t, "email problems", ProblemFigures{Opened: 1, Resolved: 1, Open: 1, KnownErrorsRecorded: 1, KnownErrorsOpen: 1}, email.Problems)
		requireJSON(t, "email suppliers", []SupplierPerformance{
			{Supplier: "acme", Name: "Acme Ltd", Reviews: 2, Closed: 1, AverageRating: rptPtr(2.0), LatestRating: 2, LatestReview: "SRV-000002"},
			{Supplier: "globex", Name: "Globex Ltd", Reviews: 1, Closed: 1, AverageRating: rptPtr(5.0), LatestRating: 5, LatestReview: "SRV-000004"},
		}, email.Suppliers)
		requireJSON(t, "email complaints", ComplaintFigures{Received: 2, Closed: 1, Open: 1}, email.Complaints)
		requireJSON(t, "email satisfaction", SatisfactionFigures{Sent: 2, Responses: 1, AverageScore: rptPtr(4.0), Scores: [5]int64{0, 0, 0, 1, 0}}, email.Satisfaction)
		requireJSON(t, "email corrective actions", []OpenCorrective{{ID: "CAPA-000001", Title: "case CAPA-000001", Status: "planned", CreatedAt: rptDay(1)}}, email.CorrectiveActions)

		requireJSON(t, "payroll sla", []TargetAchievement{
			ach("incidents", "response", "all", 1, 0, 0, 1, nil),
			ach("incidents", "response", "P2", 1, 0, 0, 1, nil),
			ach("incidents", "resolution", "all", 1, 0, 0, 1, nil),
			ach("incidents", "resolution", "P2", 1, 0, 0, 1, nil),
			ach("requests", "response", "all", 0, 0, 0, 0, nil),
			ach("requests", "resolution", "all", 0, 0, 0, 0, nil),
		}, payroll.SLA)
		requireJSON(t, "payroll changes", ChangeFigures{Raised: 1, Emergency: 1, EmergencyPct: rptPtr(100.0), Implemented: 2, Successful: 2, SuccessPct: rptPtr(100.0)}, payroll.Changes)
		requireJSON(t, "payroll suppliers", []SupplierPerformance{{Supplier: "globex", Name: "Globex Ltd", Reviews: 1, Closed: 1, AverageRating: rptPtr(5.0), LatestRating: 5, LatestReview: "SRV-000004"}}, payroll.Suppliers)
		requireJSON(t, "payroll corrective actions", []OpenCorrective{{ID: "CAPA-000003", Title: "case CAPA-000003", Status: "raised", CreatedAt: rptDay(4)}}, payroll.CorrectiveActions)
		requireJSON(t, "payroll workload", Workload{Incidents: Flow{Opened: 1}}, payroll.Workload)

		// A service without cases has every figure, all zero.
		b, _ := json.Marshal(fax)
		for _, want := range []string{`"breaches":[]`, `"major_incidents":[]`, `"suppliers":[]`, `"corrective_actions":[]`, `"achieved_pct":null`,
			`"satisfaction":{"sent":0,"responses":0,"average_score":null,"scores":[0,0,0,0,0]}`} {
			if !strings.Contains(string(b), want) {
				t.Errorf("the empty report lacks %s: %s", want, b)
			}
		}

		// One service alone reads the same as among others.
		one, err := s.ServiceReports(ctx, []Service{{ID: "email", Name: "Corporate email", Owner: "mona"}}, rptFrom, rptTo)
		if err != nil {
			t.Fatal(err)
		}
		requireJSON(t, "email alone", email, one[0])

		// April holds INC-6 and SRV-5 only; February the February complaint.
		apr, err := s.ServiceReports(ctx, []Service{{ID: "email"}}, rptTo, rptTo.AddDate(0, 1, 0))
		if err != nil {
			t.Fatal(err)
		}
		if w := apr[0].Workload.Incidents; w.Opened != 1 || apr[0].SLA[0].Breached != 1 || len(apr[0].Breaches) != 0 {
			t.Errorf("April: workload %+v, sla %+v, breaches %+v (INC-6 has no breach entry)", w, apr[0].SLA[0], apr[0].Breaches)
		}
		if sp := apr[0].Suppliers; len(sp) != 2 || sp[0].Supplier != "acme" || sp[0].Reviews != 1 || sp[0].LatestRating != 1 || sp[0].AverageRating == nil || *sp[0].AverageRating != 1 {
			t.Errorf("April suppliers %+v", sp)
		}
		feb, err := s.ServiceReports(ctx, []Service{{ID: "email"}}, rptFrom.AddDate(0, -1, 0), rptFrom)
		if err != nil {
			t.Fatal(err)
		}
		if c := feb[0].Complaints; c.Received != 1 || c.Closed != 1 {
			t.Errorf("February complaints %+v", c)
		}

		if _, err := s.ServiceReports(ctx, []Service{{ID: "email"}}, rptTo, rptFrom); err == nil {
			t.Error("an empty period was accepted")
		}
		if _, err := s.ServiceReports(ctx, []Service{{ID: "email"}, {ID: "email"}}, rptFrom, rptTo); err == nil {
			t.Error("a service listed twice was accepted")
		}
	})
}

func requireJSON(t *testing.T, what string, want, got any) {
	t.Helper()
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if string(w) != string(g) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func TestActiveServices(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		seed := func(svcs ...Service) {
			if err := s.SeedDirectory(ctx, nil, nil, svcs); err != nil {
				t.Fatal(err)
			}
		}
		seed(Service{ID: "payroll", Name: "Payroll", Owner: "tess"}, Service{ID: "email", Name: "Corporate email", Owner: "mona"})
		seed(Service{ID: "payroll", Name: "Payroll", Owner: "olga"}) // email leaves the catalogue
		got, err := s.ActiveServices(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := []Service{{ID: "payroll", Name: "Payroll", Owner: "olga", Active: true}}; !reflect.DeepEqual(got, want) {
			t.Errorf("active services %+v, want %+v", got, want)
		}
	})
}

func TestSurveys(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		f := newRptFixture(t, s)
		inc := f.open("incidents", "email", "P3", "logged", rptDay(2), nil)
		if _, err := s.GetSurvey(ctx, inc); !errors.Is(err, ErrNotFound) {
			t.Fatalf("survey before closing: %v", err)
		}
		if _, err := s.AnswerSurvey(ctx, inc, 3, "", rptDay(2)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("answer before closing: %v", err)
		}
		f.step(inc, rptDay(2).Add(time.Hour), "resolve", "resolved", nil, nil)
		f.step(inc, rptDay(3), "confirm", "closed", nil, nil)
		// A retried projection of the closing sends nothing more.
		f.cases[inc].Seq--
		f.project(inc, rptDay(3), "confirm", "resolved", nil, nil)

		ns, err := s.Notifications(ctx, inc)
		if err != nil {
			t.Fatal(err)
		}
		var surveys []Notification
		for _, n := range ns {
			if n.Event == EventSatisfactionSurvey {
				surveys = append(surveys, n)
			}
		}
		if len(surveys) != 1 || surveys[0].Recipient != "rita" || surveys[0].Channel != "email" || surveys[0].Seq != 3 ||
			!surveys[0].CreatedAt.Equal(rptDay(3)) || !strings.Contains(surveys[0].Body, "/api/v1/incidents/"+inc+"/survey") {
			t.Fatalf("survey notifications %+v", surveys)
		}
		v, err := s.GetSurvey(ctx, inc)
		if err != nil || v.Status != SurveySent || v.Caller != "rita" || v.Kind != "incidents" || v.SentAt == nil || !v.SentAt.Equal(rptDay(3)) || v.Score != nil {
			t.Fatalf("survey %+v, %v", v, err)
		}

		// A case that was never sent a survey: the answer says so (the
		// command layer answers 409 on it).
		if _, err := s.AnswerSurvey(ctx, "INC-999999", 4, "", rptDay(4)); !errors.Is(err, ErrNotFound) {
			t.Errorf("answer without a survey: %v", err)
		}
		for _, bad := range []int{0, 6, -1} {
			if _, err := s.AnswerSurvey(ctx, inc, bad, "", rptDay(4)); !errors.Is(err, ErrBadScore) {
				t.Errorf("score %d: %v", bad, err)
			}
		}
		v, err = s.AnswerSurvey(ctx, inc, 5, "very good ☺", rptDay(4))
		if err != nil || v.Status != SurveyAnswered || v.Score == nil || *v.Score != 5 || v.Comment != "very good ☺" || !v.AnsweredAt.Equal(rptDay(4)) {
			t.Fatalf("answer %+v, %v", v, err)
		}
		if _, err := s.AnswerSurvey(ctx, inc, 1, "changed my mind", rptDay(5)); !errors.Is(err, ErrSurveyAnswered) {
			t.Fatalf("second answer: %v", err)
		}
		// The database itself keeps the first answer.
		if err := s.db.Exec(`UPDATE surveys SET score = 1 WHERE case_id = ?`, inc).Error; err == nil {
			t.Error("an answered survey was changed")
		}
		if err := s.db.Exec(`DELETE FROM surveys WHERE case_id = ?`, inc).Error; err == nil {
			t.Error("a survey was deleted")
		}
		if v, _ := s.GetSurvey(ctx, inc); v.Score == nil || *v.Score != 5 || v.Comment != "very good ☺" {
			t.Errorf("after the refused changes: %+v", v)
		}

		// A closing that emails the caller itself carries the survey in the
		// same message.
		req := f.open("requests", "email", "", "fulfilled", rptDay(5), nil)
		c := f.cases[req]
		c.Seq++
		c.Status = "closed"
		err = s.Project(ctx, Projection{
			Case:          *c,
			Entry:         &HistoryEntry{Seq: c.Seq, At: rptDay(6), Actor: "system", Action: "auto_close", From: "fulfilled", To: "closed", Detail: []byte(`{}`)},
			Notifications: []Notification{{Recipient: "rita", Channel: "email", Event: "closed", Subject: "closed", Body: "Your request is closed."}},
		})
		if err != nil {
			t.Fatal(err)
		}
		ns, _ = s.Notifications(ctx, req)
		if len(ns) != 1 || ns[0].Event != "closed" || !strings.HasPrefix(ns[0].Body, "Your request is closed.\n\nYour request "+req) {
			t.Errorf("notifications of a closing that mails the caller: %+v", ns)
		}
		if v, err := s.GetSurvey(ctx, req); err != nil || v.Status != SurveySent {
			t.Errorf("survey of %s: %+v, %v", req, v, err)
		}

		// No survey for other kinds, for a case without a caller, or for a
		// request that ends otherwise.
		cmp := f.open("complaints", "email", "", "reported", rptDay(7), nil)
		f.step(cmp, rptDay(8), "close", "closed", nil, nil)
		noCaller := f.open("incidents", "email", "P4", "resolved", rptDay(7), nil)
		f.cases[noCaller].Caller = ""
		f.step(noCaller, rptDay(8), "confirm", "closed", nil, nil)
		cancelled := f.open("requests", "email", "", "logged", rptDay(7), nil)
		f.step(cancelled, rptDay(8), "cancel", "cancelled", nil, nil)
		for _, id := range []string{cmp, noCaller, cancelled} {
			if _, err := s.GetSurvey(ctx, id); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s has a survey: %v", id, err)
			}
		}
		var n int64
		if err := s.db.Raw(`SELECT COUNT(*) FROM notifications WHERE event = ?`, EventSatisfactionSurvey).Scan(&n).Error; err != nil || n != 1 {
			t.Errorf("%d survey notifications, %v", n, err)
		}
	})
}
