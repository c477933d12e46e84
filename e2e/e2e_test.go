package e2e

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestKanri runs the whole suite once per application database. The
// subtests share one Kanri per database: starting the engine is the slow
// part.
func TestKanri(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts the embedded engine")
	}
	for name, db := range databases(t) {
		t.Run(name, func(t *testing.T) {
			k := start(t, db(t), "")
			t.Run("errors", func(t *testing.T) { testErrors(t, k) })
			t.Run("incident lifecycle", func(t *testing.T) { testIncidentLifecycle(t, k) })
			t.Run("functional escalation and early warning", func(t *testing.T) { testEscalation(t, k) })
			t.Run("major incident", func(t *testing.T) { testMajor(t, k) })
			t.Run("requester sees own cases", func(t *testing.T) { testRequesterVisibility(t, k) })
			t.Run("double click applies once", func(t *testing.T) { testIdempotency(t, k) })
			t.Run("concurrent opens get distinct ids", func(t *testing.T) { testConcurrentOpen(t, k) })
			t.Run("list filters and pages", func(t *testing.T) { testList(t, k) })
			t.Run("service request with approval", func(t *testing.T) { testRequest(t, k) })
			t.Run("change approval", func(t *testing.T) { testChange(t, k) })
			t.Run("problem to change to release", func(t *testing.T) { testProblemToRelease(t, k) })
			t.Run("corrective action", func(t *testing.T) { testCorrective(t, k) })
			t.Run("complaint", func(t *testing.T) { testComplaint(t, k) })
			t.Run("health, readiness and metrics", func(t *testing.T) { testOperations(t, k) })
			// The supplier's cycle restarts Kanri, which starts the metrics afresh.
			t.Run("supplier review cycle", func(t *testing.T) { testSupplier(t, k) })
			t.Run("internal audit", func(t *testing.T) { testAudit(t, k) })
			t.Run("restart resumes cases and timers", func(t *testing.T) { testRestart(t, k) })
		})
	}
}

func newIncident(t *testing.T, k *kanri, token, title, impact, urgency string) map[string]any {
	t.Helper()
	return k.must(201, "POST", "/api/v1/incidents", token, map[string]any{
		"title": title, "description": "from the e2e suite", "service": "email", "impact": impact, "urgency": urgency,
	})
}

func testErrors(t *testing.T, k *kanri) {
	cases := []struct {
		name, method, path, token string
		body                      any
		status                    int
		detail                    string
	}{
		{"no token", "GET", "/api/v1/incidents", "", nil, 401, "Bearer"},
		{"unknown token", "GET", "/api/v1/incidents", "nope", nil, 401, "not known"},
		{"malformed JSON", "POST", "/api/v1/incidents", "alice-token", `{"title": `, 422, "malformed JSON"},
		{"two values", "POST", "/api/v1/incidents", "alice-token", `{"title":"a"} {}`, 422, "more than one value"},
		{"unknown field", "POST", "/api/v1/incidents", "alice-token", `{"title":"a","colour":"red"}`, 422, "colour"},
		{"wrong type", "POST", "/api/v1/incidents", "alice-token", `{"title":5}`, 422, "title"},
		{"empty body", "POST", "/api/v1/incidents", "alice-token", ``, 422, "empty"},
		{"missing title", "POST", "/api/v1/incidents", "alice-token", `{"service":"email","impact":"low","urgency":"low"}`, 422, "title is required"},
		{"unknown impact", "POST", "/api/v1/incidents", "alice-token", `{"title":"x","service":"email","impact":"extreme","urgency":"low"}`, 422, "extreme"},
		{"unknown service", "POST", "/api/v1/incidents", "alice-token", `{"title":"x","service":"fax","impact":"low","urgency":"low"}`, 422, "fax"},
		{"oversized body", "POST", "/api/v1/incidents", "alice-token", `{"title":"` + strings.Repeat("x", 2<<20) + `"}`, 422, "larger than"},
		{"requester raises for another", "POST", "/api/v1/incidents", "rita-token", `{"title":"x","service":"email","impact":"low","urgency":"low","caller":"ron"}`, 403, "themselves"},
		{"unknown id", "GET", "/api/v1/incidents/INC-999999", "alice-token", nil, 404, "INC-999999"},
		{"unknown kind", "GET", "/api/v1/widgets", "alice-token", nil, 404, "widgets"},
		{"bad limit", "GET", "/api/v1/incidents?limit=0", "alice-token", nil, 422, "limit"},
		{"unknown filter", "GET", "/api/v1/incidents?colour=red", "alice-token", nil, 422, "colour"},
		{"bad cursor", "GET", "/api/v1/incidents?cursor=zzz", "alice-token", nil, 422, "cursor"},
		{"unknown request item", "POST", "/api/v1/requests", "rita-token", `{"title":"x","item":"pony"}`, 422, "pony"},
		{"history is append-only", "DELETE", "/api/v1/incidents/INC-000001/history", "admin-token", nil, 405, "DELETE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := k.do(c.method, c.path, c.token, c.body)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			if !strings.HasPrefix(r.Type, "application/problem+json") {
				t.Fatalf("content type %q, want application/problem+json", r.Type)
			}
			p := r.json(t)
			if p["status"] != float64(c.status) || p["title"] == "" || !strings.Contains(fmt.Sprint(p["detail"]), c.detail) {
				t.Fatalf("problem %v does not say %q", p, c.detail)
			}
		})
	}
}

func testIncidentLifecycle(t *testing.T, k *kanri) {
	inc := newIncident(t, k, "rita-token", "Printer offline", "low", "medium")
	id := inc["id"].(string)
	if inc["priority"] != "P4" || inc["status"] != "logged" || inc["caller"] != "rita" || inc["group"] != "service-desk" {
		t.Fatalf("new incident: %v", inc)
	}
	// Read your writes: the list shows it at once.
	list := k.must(200, "GET", "/api/v1/incidents?status=logged&limit=200", "alice-token", nil)
	if !slices.ContainsFunc(list["items"].([]any), func(x any) bool { return x.(map[string]any)["id"] == id }) {
		t.Fatalf("list does not show %s", id)
	}

	expect := func(token string, action map[string]any, status int, field, want string) map[string]any {
		t.Helper()
		r := k.act("incidents", id, token, action)
		if r.Status != status {
			t.Fatalf("%v by %s: status %d, want %d: %s", action, token, r.Status, status, r.Body)
		}
		m := r.json(t)
		if field != "" && fmt.Sprint(m[field]) != want {
			t.Fatalf("%v: %s = %v, want %s", action, field, m[field], want)
		}
		return m
	}
	expect("rita-token", map[string]any{"action": "resolve", "resolution": "x"}, 403, "", "")
	expect("alice-token", map[string]any{"action": "confirm"}, 409, "", "")
	expect("alice-token", map[string]any{"action": "fly"}, 422, "", "")
	expect("alice-token", map[string]any{"action": "assign", "assignee": "nobody"}, 422, "", "")
	expect("alice-token", map[string]any{"action": "assign", "assignee": "bob", "group": "second-line"}, 200, "status", "assigned")
	expect("bob-token", map[string]any{"action": "start"}, 200, "status", "in_progress")
	expect("rita-token", map[string]any{"action": "comment", "body": "It is still offline ☹"}, 200, "status", "in_progress")
	m := expect("bob-token", map[string]any{"action": "reclassify", "impact": "high", "urgency": "low"}, 200, "priority", "P3")
	if m["impact"] != "high" {
		t.Fatalf("reclassify kept impact %v", m["impact"])
	}
	expect("bob-token", map[string]any{"action": "resolve", "resolution": "Replaced the toner"}, 200, "status", "resolved")
	expect("rita-token", map[string]any{"action": "reopen", "reason": "Still jams"}, 200, "status", "in_progress")
	expect("bob-token", map[string]any{"action": "resolve", "resolution": "Replaced the drum"}, 200, "status", "resolved")
	expect("ron-token", map[string]any{"action": "confirm"}, 403, "", "")
	expect("rita-token", map[string]any{"action": "confirm"}, 200, "status", "closed")
	expect("rita-token", map[string]any{"action": "comment", "body": "thanks"}, 409, "", "")

	h := k.history("incidents", id)
	want := []string{"open", "assign", "start", "comment", "reclassify", "resolve", "reopen", "resolve", "confirm"}
	if got := actions(h); !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v (refused actions leave no trace)", got, want)
	}
	for i, e := range h {
		if e["seq"] != float64(i+1) {
			t.Fatalf("history seq %v at %d", e["seq"], i)
		}
	}
	if h[1]["actor"] != "alice" || h[1]["from"] != "logged" || h[1]["to"] != "assigned" {
		t.Fatalf("assign entry: %v", h[1])
	}
	if d := h[3]["detail"].(map[string]any); d["body"] != "It is still offline ☹" {
		t.Fatalf("comment detail: %v", d)
	}
	if d := h[4]["detail"].(map[string]any); d["from_priority"] != "P4" || d["to_priority"] != "P3" {
		t.Fatalf("reclassify detail: %v", d)
	}
}

func testEscalation(t *testing.T, k *kanri) {
	// P1: response 2s, resolution 8s, warning at 50%.
	id := newIncident(t, k, "alice-token", "Mail down for sales", "high", "high")["id"].(string)
	rec := k.eventually("incidents", id, 10*time.Second, "functional escalation", func(r map[string]any) bool {
		return r["escalation_level"].(float64) >= 1
	})
	if rec["group"] != "second-line" || !slices.Contains(rec["sla"].(map[string]any)["breached"].([]any), any("response")) {
		t.Fatalf("after the response breach: group %v, sla %v", rec["group"], rec["sla"])
	}
	k.act("incidents", id, "bob-token", map[string]any{"action": "start"})
	k.eventually("incidents", id, 10*time.Second, "early warning", func(r map[string]any) bool {
		return r["sla"].(map[string]any)["warned"] == true
	})
	rec = k.eventually("incidents", id, 15*time.Second, "resolution breach", func(r map[string]any) bool {
		return slices.Contains(r["sla"].(map[string]any)["breached"].([]any), any("resolution"))
	})
	if rec["hierarchical_level"].(float64) < 1 {
		t.Fatalf("resolution breach without hierarchical escalation: %v", rec)
	}
	notes, err := k.app.Store().Notifications(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, n := range notes {
		events = append(events, n.Event+":"+n.Recipient)
	}
	for _, want := range []string{"escalation:mona", "sla_warning:mona"} {
		if !slices.Contains(events, want) {
			t.Fatalf("outbox %v lacks %s", events, want)
		}
	}
}

func testMajor(t *testing.T, k *kanri) {
	id := newIncident(t, k, "alice-token", "Payroll run failed", "medium", "medium")["id"].(string)
	m := k.act("incidents", id, "alice-token", map[string]any{"action": "declare_major", "manager": "mona"}).json(t)
	if m["major"] != true || m["major_manager"] != "mona" {
		t.Fatalf("declare_major: %v", m)
	}
	notes, err := k.app.Store().Notifications(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, n := range notes {
		found = found || (n.Recipient == "tess" && n.Event == "major_declared")
	}
	if !found {
		t.Fatalf("top management was not notified: %+v", notes)
	}
	k.act("incidents", id, "alice-token", map[string]any{"action": "resolve", "resolution": "re-ran the batch"})
	if r := k.act("incidents", id, "alice-token", map[string]any{"action": "confirm"}); r.Status != 409 {
		t.Fatalf("confirm before review: %d", r.Status)
	}
	// Not closed by the auto-close timer either (3 s here).
	time.Sleep(4 * time.Second)
	if rec := k.must(200, "GET", "/api/v1/incidents/"+id, "alice-token", nil); rec["status"] != "resolved" {
		t.Fatalf("unreviewed major incident closed by itself: %v", rec["status"])
	}
	if r := k.act("incidents", id, "rita-token", map[string]any{"action": "review_major", "summary": "s"}); r.Status != 403 {
		t.Fatalf("requester reviewed a major incident: %d", r.Status)
	}
	k.act("incidents", id, "tess-token", map[string]any{"action": "review_major", "summary": "disk full", "improvements": "alerting"})
	k.eventually("incidents", id, 10*time.Second, "auto-close after review", func(r map[string]any) bool { return r["status"] == "closed" })
}

func testRequesterVisibility(t *testing.T, k *kanri) {
	mine := newIncident(t, k, "ron-token", "Ron's laptop", "low", "low")["id"].(string)
	theirs := newIncident(t, k, "alice-token", "Alice's server", "low", "low")["id"].(string)
	if r := k.do("GET", "/api/v1/incidents/"+theirs, "ron-token", nil); r.Status != 404 {
		t.Fatalf("requester read another's incident: %d", r.Status)
	}
	k.must(200, "GET", "/api/v1/incidents/"+mine, "ron-token", nil)
	list := k.must(200, "GET", "/api/v1/incidents?limit=200", "ron-token", nil)
	for _, it := range list["items"].([]any) {
		if c := it.(map[string]any)["caller"]; c != "ron" {
			t.Fatalf("requester's list shows a case of %v", c)
		}
	}
	// Process owners read everything.
	k.must(200, "GET", "/api/v1/incidents/"+theirs, "tess-token", nil)
}

func testIdempotency(t *testing.T, k *kanri) {
	id := newIncident(t, k, "alice-token", "Click twice", "low", "low")["id"].(string)
	body := map[string]any{"action": "comment", "body": "once"}
	for range 2 {
		r := k.do("POST", "/api/v1/incidents/"+id+"/actions", "alice-token", body, "Idempotency-Key", "click-"+id)
		if r.Status != 200 {
			t.Fatalf("comment: %d %s", r.Status, r.Body)
		}
	}
	if got := actions(k.history("incidents", id)); !slices.Equal(got, []string{"open", "comment"}) {
		t.Fatalf("history after a double click: %v", got)
	}
}

func testConcurrentOpen(t *testing.T, k *kanri) {
	const n = 16
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := k.do("POST", "/api/v1/incidents", "alice-token", map[string]any{
				"title": fmt.Sprintf("burst %d", i), "service": "payroll", "impact": "low", "urgency": "low",
			})
			if r.Status == 201 {
				ids[i] = r.json(t)["id"].(string)
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, id := range ids {
		if id == "" || seen[id] {
			t.Fatalf("ids %v: missing or repeated", ids)
		}
		seen[id] = true
	}
}

func testList(t *testing.T, k *kanri) {
	id := newIncident(t, k, "alice-token", "Filter me", "medium", "high")["id"].(string) // P2
	k.act("incidents", id, "alice-token", map[string]any{"action": "assign", "assignee": "carl", "group": "third-line"})
	for _, q := range []string{"priority=P2", "assignee=carl", "group=third-line", "status=assigned", "service=email", "major=false", "breached=false"} {
		list := k.must(200, "GET", "/api/v1/incidents?limit=200&"+q, "alice-token", nil)
		if !slices.ContainsFunc(list["items"].([]any), func(x any) bool { return x.(map[string]any)["id"] == id }) {
			t.Fatalf("filter %s does not find %s", q, id)
		}
	}
	for _, q := range []string{"priority=P1", "assignee=bob", "status=closed,resolved", "major=true"} {
		list := k.must(200, "GET", "/api/v1/incidents?limit=200&"+q, "alice-token", nil)
		if slices.ContainsFunc(list["items"].([]any), func(x any) bool { return x.(map[string]any)["id"] == id }) {
			t.Fatalf("filter %s finds %s", q, id)
		}
	}
	// Pages: newest first, no repeats, the cursor ends with null.
	var all []string
	cursor := ""
	for page := 0; page < 100; page++ {
		path := "/api/v1/incidents?limit=3"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		l := k.must(200, "GET", path, "alice-token", nil)
		for _, it := range l["items"].([]any) {
			all = append(all, it.(map[string]any)["id"].(string))
		}
		if l["next_cursor"] == nil {
			break
		}
		cursor = l["next_cursor"].(string)
	}
	sorted := slices.Clone(all)
	slices.Sort(sorted)
	slices.Reverse(sorted)
	if !slices.Equal(all, sorted) || len(slices.Compact(sorted)) != len(all) || all[0] != id {
		t.Fatalf("paged list is not newest first without repeats: %v", all)
	}
}

func testRequest(t *testing.T, k *kanri) {
	quick := k.must(201, "POST", "/api/v1/requests", "rita-token", map[string]any{"title": "Reset my password", "item": "password-reset"})
	if quick["status"] != "logged" || quick["group"] != "service-desk" || quick["sla"].(map[string]any)["resolution_due"] == nil {
		t.Fatalf("request without approval: %v", quick)
	}
	rq := k.must(201, "POST", "/api/v1/requests", "rita-token", map[string]any{"title": "A laptop for the new hire", "item": "new-laptop"})
	id := rq["id"].(string)
	if !strings.HasPrefix(id, "REQ-") || rq["status"] != "awaiting_approval" || rq["waiting_for"] != "approval by managers (0 of 2)" {
		t.Fatalf("request needing approval: %v", rq)
	}
	if r := k.act("requests", id, "alice-token", map[string]any{"action": "approve"}); r.Status != 403 {
		t.Fatalf("non-member approved: %d", r.Status)
	}
	if r := k.act("requests", id, "alice-token", map[string]any{"action": "start"}); r.Status != 409 {
		t.Fatalf("started before approval: %d", r.Status)
	}
	m := k.act("requests", id, "mona-token", map[string]any{"action": "approve", "comment": "budgeted"}).json(t)
	if m["status"] != "awaiting_approval" || m["waiting_for"] != "approval by managers (1 of 2)" {
		t.Fatalf("after one approval: %v", m)
	}
	if r := k.act("requests", id, "mona-token", map[string]any{"action": "approve"}); r.Status != 409 {
		t.Fatalf("approved twice by one person: %d", r.Status)
	}
	m = k.act("requests", id, "cab1-token", map[string]any{"action": "approve", "comment": "ok"}).json(t)
	if m["status"] != "logged" || len(m["approvals"].([]any)) != 2 {
		t.Fatalf("after quorum: %v", m)
	}
	a := m["approvals"].([]any)[0].(map[string]any)
	if a["by"] != "mona" || a["comment"] != "budgeted" || a["at"] == "" {
		t.Fatalf("approval record: %v", a)
	}
	k.act("requests", id, "alice-token", map[string]any{"action": "start"})
	m = k.act("requests", id, "alice-token", map[string]any{"action": "fulfil", "resolution": "Laptop handed over"}).json(t)
	if m["status"] != "fulfilled" {
		t.Fatalf("fulfil: %v", m)
	}
	k.eventually("requests", id, 10*time.Second, "auto-close", func(r map[string]any) bool { return r["status"] == "closed" })

	rej := k.must(201, "POST", "/api/v1/requests", "rita-token", map[string]any{"title": "A gold laptop", "item": "new-laptop"})["id"].(string)
	if r := k.act("requests", rej, "rita-token", map[string]any{"action": "approve"}); r.Status != 403 {
		t.Fatalf("requester approved own request: %d", r.Status)
	}
	if m := k.act("requests", rej, "cab1-token", map[string]any{"action": "reject", "comment": "no"}).json(t); m["status"] != "rejected" {
		t.Fatalf("reject: %v", m)
	}
	if r := k.act("requests", rej, "mona-token", map[string]any{"action": "approve"}); r.Status != 409 {
		t.Fatalf("approve after rejection: %d", r.Status)
	}
}

func testRestart(t *testing.T, k *kanri) {
	survivor := newIncident(t, k, "alice-token", "Survivor", "low", "low")["id"].(string)
	timed := newIncident(t, k, "alice-token", "Crash test", "high", "high")["id"].(string)
	k2 := k.restart()
	*k = *k2
	if rec := k.must(200, "GET", "/api/v1/incidents/"+survivor, "alice-token", nil); rec["title"] != "Survivor" {
		t.Fatalf("after restart: %v", rec)
	}
	k.eventually("incidents", timed, 15*time.Second, "escalation after restart", func(r map[string]any) bool {
		return r["escalation_level"].(float64) >= 1
	})
	// Ids go on from where they were.
	next := newIncident(t, k, "alice-token", "After restart", "low", "low")["id"].(string)
	if next <= timed {
		t.Fatalf("id after restart %s is not after %s", next, timed)
	}
}

func testOperations(t *testing.T, k *kanri) {
	for _, path := range []string{"/healthz", "/readyz", "/api/v1/openapi.json"} {
		if r := k.do("GET", path, "", nil); r.Status != 200 {
			t.Fatalf("%s: %d %s", path, r.Status, r.Body)
		}
	}
	r := k.do("GET", "/metrics", "", nil)
	if r.Status != 200 {
		t.Fatalf("/metrics: %d", r.Status)
	}
	// The earlier subtests opened incidents and breached SLAs.
	for _, want := range []string{
		`kanri_cases_opened_total{kind="incidents"}`, `kanri_sla_breaches_total{kind="incidents"}`,
		`kanri_sla_warnings_total{kind="incidents"}`, `kanri_transitions_total{action="resolve",kind="incidents"}`,
		`kanri_http_requests_total{method="POST",route="/api/v1/incidents",status="201"}`,
	} {
		if !strings.Contains(string(r.Body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func testChange(t *testing.T, k *kanri) {
	if r := k.do("POST", "/api/v1/changes", "rita-token", map[string]any{"title": "x", "type": "normal", "backout_plan": "y"}); r.Status != 403 {
		t.Fatalf("a requester raised a change: %d", r.Status)
	}
	for _, body := range []map[string]any{
		{"title": "x", "type": "standard", "standard_change": "replace core switch"},
		{"title": "x", "type": "standard"},
		{"title": "x", "type": "normal", "standard_change": "password reset", "backout_plan": "y"},
		{"title": "x", "type": "normal"},
		{"title": "x", "type": "urgent", "backout_plan": "y"},
	} {
		if r := k.do("POST", "/api/v1/changes", "alice-token", body); r.Status != 422 {
			t.Fatalf("%v: status %d, want 422", body, r.Status)
		}
	}
	std := k.must(201, "POST", "/api/v1/changes", "alice-token", map[string]any{"title": "Reset rita's password", "type": "standard", "standard_change": "password reset"})
	if std["status"] != "approved" || std["approval"] != nil {
		t.Fatalf("standard change: %v", std)
	}

	id := k.must(201, "POST", "/api/v1/changes", "alice-token", map[string]any{
		"title": "Upgrade the mail gateway", "type": "normal", "services": []string{"email"}, "cis": []string{"mail-app"}, "backout_plan": "restore the snapshot",
	})["id"].(string)
	if !strings.HasPrefix(id, "CHG-") {
		t.Fatalf("change id %s", id)
	}
	k.act("changes", id, "alice-token", map[string]any{"action": "assess", "risk": "medium", "impact": "mail delayed 10 min", "benefit": "security fixes", "feasibility": "tested in staging", "cost": "2h", "security": "none"})
	if m := k.act("changes", id, "alice-token", map[string]any{"action": "submit"}).json(t); m["status"] != "awaiting_approval" {
		t.Fatalf("submit: %v", m)
	}
	for _, who := range []string{"alice-token", "bob-token"} { // the requester; a non-member
		if r := k.act("changes", id, who, map[string]any{"action": "approve"}); r.Status != 403 {
			t.Fatalf("approve by %s: %d", who, r.Status)
		}
	}
	k.act("changes", id, "cab1-token", map[string]any{"action": "approve", "comment": "ok"})
	m := k.act("changes", id, "cab2-token", map[string]any{"action": "approve", "comment": "ok too"}).json(t)
	if m["status"] != "approved" || len(m["approvals"].([]any)) != 2 {
		t.Fatalf("after quorum: %v", m)
	}
	h := k.history("changes", id)
	var approvers []string
	for _, e := range h {
		if e["action"] == "approve" {
			approvers = append(approvers, fmt.Sprint(e["actor"], ":", e["detail"].(map[string]any)["comment"]))
		}
	}
	if !slices.Equal(approvers, []string{"cab1:ok", "cab2:ok too"}) {
		t.Fatalf("history of approvals: %v", approvers)
	}
}
