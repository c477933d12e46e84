package e2e

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/workflows"
)

// TestServiceReports creates, on a Kanri of its own, incidents (one that
// breaches its response target, one declared major), a problem with a known
// error, two changes, a complaint and a corrective action; closes the
// breached incident, whose caller answers the satisfaction survey; and then
// reads the service reports, JSON and CSV, whose figures must be exactly
// what the test created.
func TestServiceReports(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts the embedded engine")
	}
	for name, db := range databases(t) {
		t.Run(name, func(t *testing.T) {
			k := start(t, db(t), "")
			email := rptScenario(t, k)
			t.Run("monthly report", func(t *testing.T) { rptMonthly(t, k, email) })
		})
	}
}

// rptReport is the JSON of one service's report, as a client reads it.
type rptReport struct {
	Service string           `json:"service"`
	Name    string           `json:"name"`
	Owner   string           `json:"owner"`
	SLA     []map[string]any `json:"sla"`
	// The sections compared whole are kept as JSON.
	Breaches          []map[string]any `json:"breaches"`
	Workload          json.RawMessage  `json:"workload"`
	MajorIncidents    []map[string]any `json:"major_incidents"`
	Changes           json.RawMessage  `json:"changes"`
	Problems          json.RawMessage  `json:"problems"`
	Suppliers         json.RawMessage  `json:"suppliers"`
	Complaints        json.RawMessage  `json:"complaints"`
	Satisfaction      json.RawMessage  `json:"satisfaction"`
	CorrectiveActions []map[string]any `json:"corrective_actions"`
}

func rptScenario(t *testing.T, k *kanri) rptReport {
	from := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	ctx := t.Context()

	// A: P1 for rita, logged by alice; nobody starts it within the 2 s
	// response target.
	a := k.must(201, "POST", "/api/v1/incidents", "alice-token", map[string]any{
		"title": "Mail is down for everyone", "description": "e2e", "service": "email", "impact": "high", "urgency": "high", "caller": "rita",
	})
	incA := a["id"].(string)
	if a["priority"] != "P1" {
		t.Fatalf("incident A: %v", a)
	}
	// B: the incident that will be major, started at once (response met).
	b := k.must(201, "POST", "/api/v1/incidents", "rita-token", map[string]any{
		"title": "Calendar invites lost", "description": "e2e", "service": "email", "impact": "medium", "urgency": "medium",
	})
	incB, prioB := b["id"].(string), b["priority"].(string)
	if r := k.act("incidents", incB, "alice-token", map[string]any{"action": "start"}); r.Status != 200 {
		t.Fatalf("start B: %d %s", r.Status, r.Body)
	}
	if r := k.act("incidents", incB, "alice-token", map[string]any{"action": "declare_major", "manager": "mona"}); r.Status != 200 {
		t.Fatalf("declare B major: %d %s", r.Status, r.Body)
	}

	// A problem explains A; its known error is the breach's cause.
	prb := k.must(201, "POST", "/api/v1/problems", "alice-token", map[string]any{
		"title": "Gateway certificate", "description": "e2e", "service": "email", "impact": "high", "urgency": "high", "incidents": []string{incA},
	})["id"].(string)
	for _, act := range []map[string]any{
		{"action": "investigate"},
		{"action": "record_known_error", "root_cause": "expired TLS certificate", "workaround": "use webmail"},
	} {
		if r := k.act("problems", prb, "alice-token", act); r.Status != 200 {
			t.Fatalf("%v: %d %s", act, r.Status, r.Body)
		}
	}
	k.eventually("incidents", incA, 10*time.Second, "the problem's link", func(r map[string]any) bool { return hasLink(r, "problems", prb) })
	// Resolved right after the response breach, well within the 8 s
	// resolution target.
	k.eventually("incidents", incA, 15*time.Second, "response breach", func(r map[string]any) bool {
		return slices.Contains(r["sla"].(map[string]any)["breached"].([]any), any("response"))
	})
	for _, act := range []map[string]any{{"action": "start"}, {"action": "resolve", "resolution": "renewed the certificate"}} {
		if r := k.act("incidents", incA, "bob-token", act); r.Status != 200 {
			t.Fatalf("%v on A: %d %s", act, r.Status, r.Body)
		}
	}

	// The survey: not before A closes, only by its caller, once.
	survey := "/api/v1/incidents/" + incA + "/survey"
	if r := k.do("POST", survey, "rita-token", map[string]any{"score": 4}); r.Status != 409 {
		t.Fatalf("survey answered before closing: %d %s", r.Status, r.Body)
	}
	if r := k.act("incidents", incA, "rita-token", map[string]any{"action": "confirm"}); r.Status != 200 && r.Status != 409 {
		t.Fatalf("confirm A: %d %s", r.Status, r.Body) // 409: closed already by auto_close_after (3 s)
	}
	k.eventually("incidents", incA, 10*time.Second, "closed", func(r map[string]any) bool { return r["status"] == "closed" })
	notes, err := k.app.Store().Notifications(ctx, incA)
	if err != nil {
		t.Fatal(err)
	}
	var sent []string
	for _, n := range notes {
		if n.Event == "satisfaction_survey" {
			sent = append(sent, n.Recipient+"/"+n.Channel)
		}
	}
	if !slices.Equal(sent, []string{"rita/email"}) {
		t.Fatalf("survey notifications of %s: %v", incA, sent)
	}
	for _, c := range []struct {
		token  string
		body   any
		status int
	}{
		{"ron-token", map[string]any{"score": 5}, 403},
		{"alice-token", map[string]any{"score": 5}, 403},
		{"rita-token", map[string]any{"score": 9}, 422},
		{"rita-token", map[string]any{"score": 4, "comment": "fixed, but slow to start"}, 200},
		{"rita-token", map[string]any{"score": 1}, 409},
	} {
		if r := k.do("POST", survey, c.token, c.body); r.Status != c.status {
			t.Fatalf("survey %v by %s: %d, want %d: %s", c.body, c.token, r.Status, c.status, r.Body)
		}
	}
	if v := k.must(200, "GET", survey, "alice-token", nil); v["status"] != "answered" || v["score"] != float64(4) || v["caller"] != "rita" {
		t.Fatalf("survey: %v", v)
	}
	if r := k.do("GET", survey, "ron-token", nil); r.Status != 403 {
		t.Fatalf("another requester read the survey: %d", r.Status)
	}
	if v := k.must(200, "GET", "/api/v1/incidents/"+incB+"/survey", "rita-token", nil); v["status"] != "not_sent" {
		t.Fatalf("survey of an open incident: %v", v)
	}

	// Changes: an emergency change of email and payroll that succeeds, a
	// standard change of email that fails.
	emg := k.must(201, "POST", "/api/v1/changes", "alice-token", map[string]any{
		"title": "Emergency certificate swap", "type": "emergency", "services": []string{"email", "payroll"}, "backout_plan": "old cert",
	})["id"].(string)
	std := k.must(201, "POST", "/api/v1/changes", "alice-token", map[string]any{
		"title": "Reset the gateway password", "type": "standard", "standard_change": "password reset", "services": []string{"email"},
	})["id"].(string)
	for _, step := range []struct {
		id, token string
		act       map[string]any
	}{
		{emg, "alice-token", map[string]any{"action": "submit"}},
		{emg, "cab1-token", map[string]any{"action": "approve", "comment": "go"}},
		{emg, "alice-token", map[string]any{"action": "implement"}},
		{emg, "alice-token", map[string]any{"action": "complete", "success": true, "notes": "done"}},
		{std, "alice-token", map[string]any{"action": "implement"}},
		{std, "alice-token", map[string]any{"action": "complete", "success": false, "notes": "the new password was refused"}},
	} {
		if r := k.act("changes", step.id, step.token, step.act); r.Status != 200 {
			t.Fatalf("%s %v: %d %s", step.id, step.act, r.Status, r.Body)
		}
	}

	k.must(201, "POST", "/api/v1/complaints", "rita-token", map[string]any{"title": "Mail was down for an hour", "service": "email"})
	capa := k.must(201, "POST", "/api/v1/corrective-actions", "alice-token", map[string]any{
		"title": "Certificate expiry not monitored", "service": "email", "owner": "bob",
	})["id"].(string)

	// The reports.
	q := "?from=" + url.QueryEscape(from.Format(time.RFC3339)) + "&to=" + url.QueryEscape(time.Now().UTC().Add(time.Minute).Format(time.RFC3339))
	var all struct {
		Items []rptReport `json:"items"`
	}
	rptGet(t, k, "/api/v1/reports/services"+q, "tess-token", &all)
	if len(all.Items) != 2 || all.Items[0].Service != "email" || all.Items[1].Service != "payroll" {
		t.Fatalf("services reported: %+v", all.Items)
	}
	var email rptReport
	rptGet(t, k, "/api/v1/reports/services/email"+q, "mona-token", &email) // mona owns email
	if email.Name != "Corporate email" || email.Owner != "mona" {
		t.Fatalf("email report heading: %+v", email)
	}
	rptEqual(t, "the email report alone and among all", email, all.Items[0])

	ach := func(kind, target, prio string, cases, met, breached, pending int, pct any) map[string]any {
		return map[string]any{"kind": kind, "target": target, "priority": prio, "cases": float64(cases), "met": float64(met),
			"breached": float64(breached), "pending": float64(pending), "achieved_pct": pct}
	}
	wantSLA := []map[string]any{
		ach("incidents", "response", "all", 2, 1, 1, 0, 50.0),
		ach("incidents", "response", "P1", 1, 0, 1, 0, 0.0),
		ach("incidents", "response", prioB, 1, 1, 0, 0, 100.0),
		ach("incidents", "resolution", "all", 2, 1, 0, 1, 100.0),
		ach("incidents", "resolution", "P1", 1, 1, 0, 0, 100.0),
		ach("incidents", "resolution", prioB, 1, 0, 0, 1, nil),
		ach("requests", "response", "all", 0, 0, 0, 0, nil),
		ach("requests", "resolution", "all", 0, 0, 0, 0, nil),
	}
	rptEqual(t, "sla", wantSLA, email.SLA)

	if len(email.Breaches) != 1 {
		t.Fatalf("breaches: %v", email.Breaches)
	}
	br := email.Breaches[0]
	at, _ := time.Parse(time.RFC3339Nano, br["at"].(string))
	delete(br, "at")
	if at.Before(from) || at.After(time.Now()) {
		t.Errorf("breach at %s", at)
	}
	rptEqual(t, "breach", map[string]any{
		"case_id": incA, "kind": "incidents", "title": "Mail is down for everyone", "priority": "P1", "target": "response",
		"escalated_to": "second-line", "status": "closed", "resolution": "renewed the certificate",
		"problems": []any{prb}, "cause": prb + ": expired TLS certificate",
	}, br)
	rptEqualJSON(t, "workload", `{"incidents":{"opened":2,"resolved":1},"requests":{"opened":0,"resolved":0}}`, email.Workload)
	if len(email.MajorIncidents) != 1 {
		t.Fatalf("major incidents: %v", email.MajorIncidents)
	}
	m := email.MajorIncidents[0]
	if m["id"] != incB || m["manager"] != "mona" || m["status"] != "in_progress" || m["reviewed"] != false || m["resolved_at"] != nil {
		t.Errorf("major incident: %v", m)
	}
	rptEqualJSON(t, "email changes", `{"raised":2,"emergency":1,"emergency_pct":50,"implemented":2,"successful":1,"failed":1,"success_pct":50}`, email.Changes)
	rptEqualJSON(t, "problems", `{"opened":1,"resolved":0,"open":1,"known_errors_recorded":1,"known_errors_open":1}`, email.Problems)
	rptEqualJSON(t, "suppliers", `[]`, email.Suppliers)
	rptEqualJSON(t, "complaints", `{"received":1,"closed":0,"open":1}`, email.Complaints)
	rptEqualJSON(t, "satisfaction", `{"sent":1,"responses":1,"average_score":4,"scores":[0,0,0,1,0]}`, email.Satisfaction)
	if len(email.CorrectiveActions) != 1 || email.CorrectiveActions[0]["id"] != capa || email.CorrectiveActions[0]["owner"] != "bob" ||
		email.CorrectiveActions[0]["status"] != "raised" {
		t.Errorf("corrective actions: %v", email.CorrectiveActions)
	}

	payroll := all.Items[1]
	rptEqualJSON(t, "payroll changes", `{"raised":1,"emergency":1,"emergency_pct":100,"implemented":1,"successful":1,"failed":0,"success_pct":100}`, payroll.Changes)
	rptEqualJSON(t, "payroll workload", `{"incidents":{"opened":0,"resolved":0},"requests":{"opened":0,"resolved":0}}`, payroll.Workload)
	rptEqualJSON(t, "payroll satisfaction", `{"sent":0,"responses":0,"average_score":null,"scores":[0,0,0,0,0]}`, payroll.Satisfaction)
	if len(payroll.Breaches) != 0 || len(payroll.MajorIncidents) != 0 || len(payroll.CorrectiveActions) != 0 {
		t.Errorf("payroll: %+v", payroll)
	}

	// The same figures as CSV, by format and by Accept.
	for _, req := range []struct{ path, accept string }{
		{"/api/v1/reports/services" + q + "&format=csv", ""},
		{"/api/v1/reports/services/email" + q, "text/csv"},
	} {
		r := k.do("GET", req.path, "tess-token", nil, "Accept", req.accept)
		if r.Status != 200 || !strings.HasPrefix(r.Type, "text/csv") {
			t.Fatalf("CSV %s: %d %s %s", req.path, r.Status, r.Type, r.Body)
		}
		rows, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range [][]string{
			{"service", "section", "item", "metric", "value"},
			{"email", "sla", "incidents/response/all", "cases", "2"},
			{"email", "sla", "incidents/response/all", "breached", "1"},
			{"email", "sla", "incidents/response/all", "achieved_pct", "50"},
			{"email", "sla", "incidents/resolution/" + prioB, "achieved_pct", ""},
			{"email", "breaches", incA + "/response", "cause", prb + ": expired TLS certificate"},
			{"email", "workload", "incidents", "opened", "2"},
			{"email", "major_incidents", incB, "manager", "mona"},
			{"email", "changes", "", "success_pct", "50"},
			{"email", "changes", "", "emergency", "1"},
			{"email", "problems", "", "known_errors_open", "1"},
			{"email", "complaints", "", "received", "1"},
			{"email", "satisfaction", "", "average_score", "4"},
			{"email", "satisfaction", "", "score_4", "1"},
			{"email", "corrective_actions", "", "open", "1"},
			{"email", "corrective_actions", capa, "owner", "bob"},
		} {
			if !slices.ContainsFunc(rows, func(r []string) bool { return slices.Equal(r, want) }) {
				t.Errorf("%s: the CSV lacks %v", req.path, want)
			}
		}
		services := map[string]bool{}
		for _, r := range rows[1:] {
			services[r[0]] = true
		}
		if want := strings.Contains(req.path, "/email"); want != !services["payroll"] {
			t.Errorf("%s: services in the CSV %v", req.path, services)
		}
	}

	// Who may read, and what is refused.
	for _, c := range []struct {
		path, token string
		status      int
	}{
		{"/api/v1/reports/services" + q, "rita-token", 403},
		{"/api/v1/reports/services/payroll" + q, "mona-token", 200}, // mona is an agent
		{"/api/v1/reports/services/fax" + q, "tess-token", 404},
		{"/api/v1/reports/services?from=2026-02-30", "tess-token", 422},
		{"/api/v1/reports/services?from=2026-03-02&to=2026-03-01", "tess-token", 422},
		{"/api/v1/reports/services?from=2020-01-01&to=2026-01-01", "tess-token", 422},
		{"/api/v1/reports/services?format=pdf", "tess-token", 422},
	} {
		if r := k.do("GET", c.path, c.token, nil); r.Status != c.status {
			t.Errorf("GET %s as %s: %d, want %d: %s", c.path, c.token, r.Status, c.status, r.Body)
		}
	}
	return email
}

// rptMonthly runs the monthly cycle once, now, beside the one Kanri keeps:
// a second ServiceReportsWorkflow due a second from now reports the month
// up to then, which holds every case of the test. Its reports are cases of
// kind service-reports, read through the case API; the service owner is
// mailed.
func rptMonthly(t *testing.T, k *kanri, email rptReport) {
	if _, ok := cases.KindOf(activities.ServiceReportKind); !ok {
		t.Fatal("the service-reports kind is not in cases.Kinds()")
	}
	due := time.Now().UTC().Add(time.Second)
	run, err := k.app.Temporal().ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{
		ID: "rpt-e2e-monthly", TaskQueue: workflows.TaskQueue,
	}, workflows.ServiceReportsWorkflow, workflows.ServiceReportsInput{Next: due})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.app.Temporal().TerminateWorkflow(context.Background(), run.GetID(), "", "e2e done") })

	var rpt map[string]any
	wait(t, "the monthly reports, the email service's among them", func() bool {
		list := k.must(200, "GET", "/api/v1/service-reports?limit=200", "tess-token", nil)["items"].([]any)
		for _, it := range list {
			if it.(map[string]any)["service"] == "email" && len(list) == 2 {
				rpt = it.(map[string]any)
			}
		}
		return rpt != nil
	})
	id := rpt["id"].(string)
	if !strings.HasPrefix(id, "RPT-") || rpt["status"] != "closed" || rpt["owner"] != "mona" || rpt["kind"] != "service-reports" {
		t.Fatalf("report case: %v", rpt)
	}
	got := k.must(200, "GET", "/api/v1/service-reports/"+id, "mona-token", nil)
	b, _ := json.Marshal(got["report"])
	var issued rptReport
	if err := json.Unmarshal(b, &issued); err != nil {
		t.Fatal(err)
	}
	// The same figures as the report read above, over its own period.
	for what, pair := range map[string][2]any{
		"sla": {email.SLA, issued.SLA}, "workload": {email.Workload, issued.Workload}, "changes": {email.Changes, issued.Changes},
		"problems": {email.Problems, issued.Problems}, "complaints": {email.Complaints, issued.Complaints},
		"satisfaction": {email.Satisfaction, issued.Satisfaction}, "major incidents": {email.MajorIncidents, issued.MajorIncidents},
	} {
		rptEqual(t, "issued "+what, pair[0], pair[1])
	}
	if h := actions(k.history("service-reports", id)); !slices.Equal(h, []string{"issue"}) {
		t.Errorf("history of %s: %v", id, h)
	}
	notes, err := k.app.Store().Notifications(t.Context(), id)
	if err != nil || len(notes) != 1 || notes[0].Recipient != "mona" || notes[0].Event != "service_report" {
		t.Errorf("notifications of %s: %+v, %v", id, notes, err)
	}
	// Issued reports are read-only: there is no route to act on them, nor
	// to open one.
	if r := k.act("service-reports", id, "tess-token", map[string]any{"action": "comment", "body": "x"}); r.Status != 404 {
		t.Errorf("an action on an issued report: %d %s", r.Status, r.Body)
	}
	if r := k.do("POST", "/api/v1/service-reports", "tess-token", map[string]any{}); r.Status != 405 {
		t.Errorf("opening a report by hand: %d %s", r.Status, r.Body)
	}
}

func rptGet(t *testing.T, k *kanri, path, token string, v any) {
	t.Helper()
	r := k.do("GET", path, token, nil)
	if r.Status != 200 || !strings.HasPrefix(r.Type, "application/json") {
		t.Fatalf("GET %s: %d %s: %s", path, r.Status, r.Type, r.Body)
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, r.Body)
	}
}

// rptEqual compares two values as JSON, whatever the order of their
// members.
func rptEqual(t *testing.T, what string, want, got any) {
	t.Helper()
	canonical := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var x any
		if err := json.Unmarshal(b, &x); err != nil {
			t.Fatal(err)
		}
		b, _ = json.Marshal(x)
		return b
	}
	w, g := canonical(want), canonical(got)
	if !bytes.Equal(w, g) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// rptEqualJSON compares JSON text with a section of the report.
func rptEqualJSON(t *testing.T, what, want string, got json.RawMessage) {
	t.Helper()
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v: %s", what, err, got)
	}
	rptEqual(t, what, w, g)
}
