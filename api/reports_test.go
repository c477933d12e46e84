package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/store"
)

// The routes of reports.go are in the document once reportPaths adds them,
// and what it adds is consistent: operation ids unique, path parameters
// declared, every $ref pointing at a component of the document.
func TestReportPathsDocumentTheRoutes(t *testing.T) {
	doc, err := buildOpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	reportPaths(doc["paths"].(obj))
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var parsed map[string]any
	if err := json.Unmarshal(b, &parsed); err != nil {
		t.Fatal(err)
	}
	mine := func(op string) bool {
		return strings.Contains(op, "/reports/services") || strings.HasSuffix(op, "/survey")
	}
	routes := map[string]bool{}
	for op := range routedOperations(newEngine(t)) {
		if mine(op) {
			routes[op] = true
		}
	}
	documented := map[string]bool{}
	for op := range documentedOperations(t, parsed) {
		if mine(op) {
			documented[op] = true
		}
	}
	undocumented, unrouted := compareOperations(routes, documented)
	if len(undocumented) > 0 || len(unrouted) > 0 || len(routes) != 6 {
		t.Fatalf("undocumented %v, unrouted %v, routes %v", undocumented, unrouted, routes)
	}

	ids := map[string]string{}
	for path, item := range parsed["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			if method == "parameters" {
				continue
			}
			id, _ := op.(map[string]any)["operationId"].(string)
			if prev, dup := ids[id]; dup || id == "" {
				t.Errorf("%s %s: operationId %q is empty or also on %s", method, path, id, prev)
			}
			ids[id] = method + " " + path
		}
	}
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				target := any(parsed)
				for _, key := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, _ := target.(map[string]any)
					target = m[key]
				}
				if target == nil {
					t.Errorf("%s: $ref %s points nowhere", where, ref)
				}
			}
			for k, x := range v {
				walk(where+"/"+k, x)
			}
		case []any:
			for i, x := range v {
				walk(fmt.Sprint(where, "/", i), x)
			}
		}
	}
	for path, item := range parsed["paths"].(map[string]any) {
		if mine("GET " + path) {
			walk(path, item)
			if strings.Contains(path, "{id}") {
				if ps, _ := item.(map[string]any)["parameters"].([]any); len(ps) != 1 || ps[0].(map[string]any)["name"] != "id" {
					t.Errorf("%s does not declare id", path)
				}
			}
		}
	}
	// Every member of the report is described.
	props := at(t, parsed, "paths", "/api/v1/reports/services/{id}", "get", "responses", "200", "content", "application/json", "schema", "properties").(map[string]any)
	for _, f := range []string{"sla", "breaches", "workload", "major_incidents", "changes", "problems", "suppliers", "complaints", "satisfaction", "corrective_actions"} {
		if _, ok := props[f]; !ok {
			t.Errorf("the report schema lacks %s", f)
		}
	}
}

// rptAPI is an API over a real SQLite store, without a workflow engine:
// reports and surveys read and write the database only.
type rptAPI struct {
	t  *testing.T
	h  http.Handler
	db *store.Store
}

const rptConfig = `
users:
  - {id: admin, name: Ada, roles: [admin], token: admin-token}
  - {id: alice, name: Alice, roles: [agent], token: alice-token}
  - {id: tess, name: Tess, roles: [process_owner], token: tess-token}
  - {id: olga, name: Olga Owner, token: olga-token}
  - {id: rita, name: Rita, token: rita-token}
  - {id: ron, name: Ron, token: ron-token}
groups:
  - {id: service-desk, name: Service desk, members: [alice]}
  - {id: cab, name: CAB, members: [admin, alice]}
services:
  - {id: email, name: Corporate email, owner: olga}
  - {id: payroll, name: Payroll, owner: tess}
top_management: [tess]
escalation:
  functional: [service-desk]
change_policy:
  approvers:
    normal: {group: cab, quorum: 1}
    emergency: {group: cab, quorum: 1}
    major: {group: cab, quorum: 1}
release_policy:
  approvers: {group: cab, quorum: 1}
`

func newRptAPI(t *testing.T) *rptAPI {
	t.Helper()
	ctx := context.Background()
	cfg, err := policy.Parse([]byte(rptConfig))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "kanri.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var users []store.SeedUser
	for _, u := range cfg.Users {
		users = append(users, store.SeedUser{User: store.User{ID: u.ID, Name: u.Name, Roles: u.Roles, Active: true}, Token: u.Token})
	}
	if err := db.SeedDirectory(ctx, users, nil, nil); err != nil {
		t.Fatal(err)
	}
	h := New(Options{Cases: &cases.Service{Store: db, Config: cfg}, Directory: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	return &rptAPI{t: t, h: h, db: db}
}

func (a *rptAPI) do(method, path, token, body string, header ...string) *httptest.ResponseRecorder {
	a.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, req)
	return w
}

func (a *rptAPI) expect(status int, method, path, token, body string, header ...string) []byte {
	a.t.Helper()
	w := a.do(method, path, token, body, header...)
	if w.Code != status {
		a.t.Fatalf("%s %s as %s: %d, want %d: %s", method, path, token, w.Code, status, w.Body)
	}
	if status >= 400 && !strings.HasPrefix(w.Header().Get("Content-Type"), "application/problem+json") {
		a.t.Fatalf("%s %s: %d is not a problem document: %s", method, path, status, w.Header().Get("Content-Type"))
	}
	return w.Body.Bytes()
}

// project writes one transition of a case as its workflow would.
func (a *rptAPI) project(c store.Case, action, from string, at time.Time) {
	a.t.Helper()
	c.UpdatedAt = at
	c.Record = []byte(fmt.Sprintf(`{"id":%q,"status":%q,"sla":{"responded_at":null,"breached":[]},"links":[]}`, c.ID, c.Status))
	err := a.db.Project(context.Background(), store.Projection{Case: c,
		Entry: &store.HistoryEntry{Seq: c.Seq, At: at, Actor: "alice", Action: action, From: from, To: c.Status}})
	if err != nil {
		a.t.Fatal(err)
	}
}

func TestSurveyAPI(t *testing.T) {
	a := newRptAPI(t)
	at := time.Now().UTC().Add(-time.Hour)
	inc := store.Case{ID: "INC-000001", Kind: "incidents", Num: 1, Title: "Mail down", Status: "resolved", Priority: "P3",
		Service: "email", CreatedBy: "alice", Caller: "rita", CreatedAt: at, Seq: 1}
	a.project(inc, "open", "", at)
	path := "/api/v1/incidents/INC-000001/survey"

	// survey decodes an answer into a fresh Survey, so that a field the
	// answer leaves out cannot pass on the value of an earlier one.
	survey := func(body []byte) store.Survey {
		t.Helper()
		var v store.Survey
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("survey %s: %v", body, err)
		}
		return v
	}
	v := survey(a.expect(200, "GET", path, "rita-token", ""))
	if v.Status != store.SurveyNotSent || v.Caller != "rita" {
		t.Fatalf("survey before closing: %+v", v)
	}
	a.expect(409, "POST", path, "rita-token", `{"score": 4}`)
	a.expect(403, "POST", path, "alice-token", `{"score": 4}`) // staff do not answer for the caller
	a.expect(403, "GET", path, "ron-token", "")

	inc.Seq, inc.Status = 2, "closed"
	a.project(inc, "confirm", "resolved", at.Add(time.Minute))
	v = survey(a.expect(200, "GET", path, "alice-token", ""))
	if v.Status != store.SurveySent || v.SentAt == nil {
		t.Fatalf("survey once closed: %+v", v)
	}
	a.expect(403, "POST", path, "ron-token", `{"score": 4}`)
	a.expect(403, "POST", path, "admin-token", `{"score": 4}`)
	for _, bad := range []string{`{"score": 0}`, `{"score": 6}`, `{"score": 4.5}`, `{"comment": "no score"}`, `{"score": 3, "colour": "red"}`, `{"score": "5"}`, ``} {
		a.expect(422, "POST", path, "rita-token", bad)
	}
	v = survey(a.expect(200, "POST", path, "rita-token", `{"score": 4, "comment": "quick"}`))
	if v.Status != store.SurveyAnswered || v.Score == nil || *v.Score != 4 || v.Comment != "quick" || v.AnsweredAt == nil {
		t.Fatalf("answer: %+v", v)
	}
	a.expect(409, "POST", path, "rita-token", `{"score": 5}`)
	v = survey(a.expect(200, "GET", path, "tess-token", ""))
	if v.Score == nil || *v.Score != 4 {
		t.Fatalf("after a second answer: %+v", v)
	}
	a.expect(404, "GET", "/api/v1/incidents/INC-000404/survey", "rita-token", "")
	a.expect(404, "GET", "/api/v1/requests/INC-000001/survey", "rita-token", "") // another kind's id
	a.expect(404, "GET", "/api/v1/changes/CHG-000001/survey", "alice-token", "") // no such route
}

func TestServiceReportAPI(t *testing.T) {
	a := newRptAPI(t)
	now := time.Now().UTC()
	for i, svc := range []string{"email", "email", "payroll"} {
		a.project(store.Case{ID: fmt.Sprintf("INC-%06d", i+1), Kind: "incidents", Num: int64(i + 1), Title: "=HYPERLINK(1)",
			Status: "logged", Priority: "P2", Service: svc, CreatedBy: "alice", Caller: "rita", CreatedAt: now.Add(-time.Hour), Seq: 1},
			"open", "", now.Add(-time.Hour))
	}
	from := now.Add(-2 * time.Hour).Format(time.RFC3339)
	q := "?from=" + from

	var all struct {
		From, To, GeneratedAt time.Time
		Items                 []store.ServiceReport
	}
	if err := json.Unmarshal(a.expect(200, "GET", "/api/v1/reports/services"+q, "tess-token", ""), &all); err != nil {
		t.Fatal(err)
	}
	if len(all.Items) != 2 || all.Items[0].Service != "email" || all.Items[0].Workload.Incidents.Opened != 2 ||
		all.Items[1].Service != "payroll" || all.Items[1].Workload.Incidents.Opened != 1 || all.Items[0].Owner != "olga" {
		t.Fatalf("all services: %+v", all)
	}

	var one store.ServiceReport
	if err := json.Unmarshal(a.expect(200, "GET", "/api/v1/reports/services/email"+q, "alice-token", ""), &one); err != nil {
		t.Fatal(err)
	}
	if one.Service != "email" || one.Name != "Corporate email" || one.SLA[0].Cases != 2 || one.SLA[0].Pending != 2 {
		t.Fatalf("email: %+v", one)
	}

	// A service owner without a staff role reads the services they own.
	var owned struct{ Items []store.ServiceReport }
	if err := json.Unmarshal(a.expect(200, "GET", "/api/v1/reports/services"+q, "olga-token", ""), &owned); err != nil {
		t.Fatal(err)
	}
	if len(owned.Items) != 1 || owned.Items[0].Service != "email" {
		t.Fatalf("the owner's reports: %+v", owned)
	}
	a.expect(200, "GET", "/api/v1/reports/services/email", "olga-token", "")
	a.expect(403, "GET", "/api/v1/reports/services/payroll", "olga-token", "")
	a.expect(403, "GET", "/api/v1/reports/services", "rita-token", "")
	a.expect(404, "GET", "/api/v1/reports/services/fax", "tess-token", "")

	for _, bad := range []string{"?from=yesterday", "?to=2026-13-01", "?from=2026-03-01&to=2026-03-01T00:00:00Z", "?from=2026-04-01&to=2026-03-01",
		"?from=2025-01-01&to=2026-03-01", "?format=xml", "?colour=red"} {
		a.expect(422, "GET", "/api/v1/reports/services/email"+bad, "tess-token", "")
	}
	a.expect(200, "GET", "/api/v1/reports/services/email?from=2028-01-01&to=2028-12-31", "tess-token", "") // 366 days

	for _, req := range []struct{ query, accept string }{{q + "&format=csv", ""}, {q, "text/csv"}} {
		w := a.do("GET", "/api/v1/reports/services"+req.query, "tess-token", "", "Accept", req.accept)
		if w.Code != 200 || w.Header().Get("Content-Type") != "text/csv; charset=utf-8" ||
			!strings.Contains(w.Header().Get("Content-Disposition"), "service-report-services-") {
			t.Fatalf("CSV: %d %v", w.Code, w.Header())
		}
		rows, err := csv.NewReader(bytes.NewReader(w.Body.Bytes())).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(rows[0], []string{"service", "section", "item", "metric", "value"}) {
			t.Fatalf("header %v", rows[0])
		}
		for _, want := range [][]string{
			{"email", "service", "", "owner", "olga"},
			{"email", "sla", "incidents/response/all", "cases", "2"},
			{"email", "sla", "incidents/response/all", "achieved_pct", ""},
			{"email", "workload", "incidents", "opened", "2"},
			{"payroll", "workload", "incidents", "opened", "1"},
			{"payroll", "satisfaction", "", "score_5", "0"},
		} {
			if !slices.ContainsFunc(rows, func(r []string) bool { return slices.Equal(r, want) }) {
				t.Errorf("CSV lacks %v:\n%s", want, w.Body)
			}
		}
	}
}

func TestReportCSVQuotesFormulas(t *testing.T) {
	at := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	rep := store.ServiceReport{Service: "email", From: at, To: at.AddDate(0, 1, 0),
		Breaches: []store.Breach{{CaseID: "INC-000001", Target: "response", Title: "=cmd|' /C calc'!A0", Resolution: "-1+1", At: at, Problems: []string{"PRB-000001", "PRB-000002"}}},
	}
	rows, err := csv.NewReader(bytes.NewReader(reportCSV([]store.ServiceReport{rep}))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range [][]string{
		{"email", "breaches", "INC-000001/response", "title", "'=cmd|' /C calc'!A0"},
		{"email", "breaches", "INC-000001/response", "resolution", "'-1+1"},
		{"email", "breaches", "INC-000001/response", "at", "2026-03-02T08:00:00Z"},
		{"email", "breaches", "INC-000001/response", "problems", "PRB-000001 PRB-000002"},
		{"email", "period", "", "to", "2026-04-02T08:00:00Z"},
	} {
		if !slices.ContainsFunc(rows, func(r []string) bool { return slices.Equal(r, want) }) {
			t.Errorf("CSV lacks %v: %v", want, rows)
		}
	}
}
