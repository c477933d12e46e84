package e2e

import (
	"strings"
	"testing"
	"time"
)

// verifyCorrective drives a corrective action raised by a review or an
// audit to a verified close: the effectiveness check falls due
// improvement.effectiveness_after (3s) after the results.
func verifyCorrective(t *testing.T, k *kanri, id string) {
	t.Helper()
	k.act("corrective-actions", id, "tess-token", map[string]any{"action": "confirm"})
	k.act("corrective-actions", id, "tess-token", map[string]any{"action": "analyse_cause", "root_cause": "no weekend cover"})
	k.act("corrective-actions", id, "tess-token", map[string]any{"action": "evaluate", "needs_change": true, "reason": "recurring"})
	due := time.Now().Add(14 * 24 * time.Hour).UTC().Format(time.RFC3339)
	k.act("corrective-actions", id, "tess-token", map[string]any{"action": "plan", "plan": "weekend on-call", "assignee": "carl", "start": due})
	if m := k.act("corrective-actions", id, "carl-token", map[string]any{"action": "record_results", "results": "on-call rota signed"}).json(t); m["status"] != "implemented" {
		t.Fatalf("%s results: %v", id, m)
	}
	k.eventually("corrective-actions", id, 15*time.Second, "effectiveness check due", func(r map[string]any) bool { return r["status"] == "verifying" })
	if m := k.act("corrective-actions", id, "tess-token", map[string]any{"action": "verify", "success": true, "notes": "met since"}).json(t); m["status"] != "closed" || m["closure"] != "effective" {
		t.Fatalf("%s verify: %v", id, m)
	}
}

// testSupplier: a supplier's contract is checked against the customer's
// SLA; its review cycle opens a review on schedule, survives a restart of
// Kanri and opens the next one on time; the review's nonconformity raises
// a corrective action that is tracked to a verified close.
func testSupplier(t *testing.T, k *kanri) {
	contract := func(resolution string) map[string]any {
		return map[string]any{
			"scope": "operation of the mail servers", "services": []string{"email"}, "cis": []string{"mail-app"},
			"targets":          []map[string]any{{"service": "email", "priority": "P1", "response": "2s", "resolution": resolution}},
			"contract_manager": "carl", "review_interval": "5s",
		}
	}
	if r := k.do("POST", "/api/v1/suppliers", "tess-token", map[string]any{"name": "Acme", "contract": contract("9s")}); r.Status != 422 ||
		!strings.Contains(string(r.Body), "looser than the customer's SLA") {
		t.Fatalf("a target looser than the SLA: %d %s", r.Status, r.Body)
	}
	if r := k.do("POST", "/api/v1/suppliers", "alice-token", map[string]any{"name": "Acme", "contract": contract("8s")}); r.Status != 403 {
		t.Fatalf("an agent registered a supplier: %d", r.Status)
	}
	sup := k.must(201, "POST", "/api/v1/suppliers", "tess-token", map[string]any{"name": "Acme Hosting", "contract": contract("8s")})
	id := sup["id"].(string)
	registered := time.Now()
	if !strings.HasPrefix(id, "SUP-") || sup["status"] != "active" || sup["next_review"] == nil {
		t.Fatalf("supplier: %v", sup)
	}
	sub := k.must(201, "POST", "/api/v1/suppliers", "tess-token", map[string]any{"name": "Acme Cabling", "lead": id,
		"contract": map[string]any{"scope": "cabling", "cis": []string{"srv-01"}}})
	if sub["contract"].(map[string]any)["contract_manager"] != "carl" {
		t.Fatalf("a sub-contractor works under its lead's contract: %v", sub)
	}
	k.act("suppliers", id, "carl-token", map[string]any{"action": "record_dispute", "summary": "March invoice"})

	first := k.eventually("suppliers", id, 20*time.Second, "the first scheduled review", func(r map[string]any) bool {
		return len(r["reviews"].([]any)) >= 1
	})
	rv := first["reviews"].([]any)[0].(map[string]any)
	if rv["trigger"] != "schedule" || !hasLink(first, "suppliers", sub["id"].(string)) {
		t.Fatalf("first review: %v", first)
	}
	srvID := rv["id"].(string)
	srv := k.must(200, "GET", "/api/v1/supplier-reviews/"+srvID, "carl-token", nil)
	if srv["status"] != "open" || len(srv["open_disputes"].([]any)) != 1 || !strings.Contains(strings.Join(toStrings(srv["cis"]), ","), "srv-01") {
		t.Fatalf("review %s: %v", srvID, srv)
	}
	opened1 := time.Now()
	if d := opened1.Sub(registered); d < 4*time.Second || d > 12*time.Second {
		t.Fatalf("the first review opened %s after registration; the interval is 5s", d)
	}

	// Kanri restarts between reviews; the next one still opens on time.
	k2 := k.restart()
	*k = *k2
	second := k.eventually("suppliers", id, 20*time.Second, "the second scheduled review after a restart", func(r map[string]any) bool {
		return len(r["reviews"].([]any)) >= 2
	})
	var at []time.Time
	for _, e := range k.history("suppliers", id) {
		if e["action"] == "review_opened" {
			ts, err := time.Parse(time.RFC3339Nano, e["at"].(string))
			if err != nil {
				t.Fatal(err)
			}
			at = append(at, ts)
		}
	}
	if len(at) < 2 {
		t.Fatalf("reviews opened: %v; record %v", at, second)
	}
	// On time: the cycle keeps to its schedule (each review is due an
	// interval after the last was due, not after it opened, so a late
	// review does not push the next one back), never early, and late by
	// at most the sticky queue's schedule-to-start timeout (5s): the
	// timer's workflow task first goes to the stopped worker's sticky
	// queue, and the server hands it to the new worker when that times
	// out. next_review is stamped to the second, so the due time read
	// back is up to a second early.
	firstDue, err := time.Parse(time.RFC3339, sup["next_review"].(string))
	if err != nil {
		t.Fatal(err)
	}
	secondDue := firstDue.Add(5 * time.Second)
	if late := at[1].Sub(secondDue); late < 0 || late > 8*time.Second {
		t.Fatalf("the review after the restart opened at %s, %s after it was due (%s); the first was due at %s and opened at %s",
			at[1], late, secondDue, firstDue, at[0])
	}

	if r := k.act("supplier-reviews", srvID, "alice-token", map[string]any{"action": "record", "rating": 3, "decisions": "x"}); r.Status != 403 {
		t.Fatalf("someone other than the contract manager recorded the review: %d %s", r.Status, r.Body)
	}
	rec := k.act("supplier-reviews", srvID, "carl-token", map[string]any{"action": "record", "rating": 2, "decisions": "improve or exit",
		"findings": []map[string]any{{"summary": "P1 resolution missed", "nonconformity": true, "clause": "schedule 2"}, {"summary": "late reports"}}}).json(t)
	capas := rec["corrective_actions"].([]any)
	if rec["status"] != "closed" || len(capas) != 1 {
		t.Fatalf("recorded review: %v", rec)
	}
	capa := capas[0].(string)
	c := k.must(200, "GET", "/api/v1/corrective-actions/"+capa, "tess-token", nil)
	if c["source"].(map[string]any)["kind"] != "supplier_review" || !hasLink(c, "supplier-reviews", srvID) {
		t.Fatalf("corrective action from the review: %v", c)
	}
	verifyCorrective(t, k, capa)
	k.eventually("suppliers", id, 10*time.Second, "the rating reaches the supplier", func(r map[string]any) bool {
		return r["reviews"].([]any)[0].(map[string]any)["rating"] == float64(2)
	})

	// A review at once, and the end of the contract.
	on := k.must(201, "POST", "/api/v1/supplier-reviews", "carl-token", map[string]any{"supplier": id})
	if on["trigger"] != "on_demand" || on["status"] != "open" {
		t.Fatalf("review on demand: %v", on)
	}
	if m := k.act("suppliers", id, "tess-token", map[string]any{"action": "terminate", "reason": "exit"}).json(t); m["status"] != "ended" {
		t.Fatalf("terminate: %v", m)
	}
	if r := k.do("POST", "/api/v1/supplier-reviews", "carl-token", map[string]any{"supplier": id}); r.Status != 409 {
		t.Fatalf("a review of an ended supplier: %d", r.Status)
	}
}

// testAudit: an auditor who works in the audited process is refused; the
// independent auditor's finding raises a corrective action, and the
// reported audit closes once that action is verified.
func testAudit(t *testing.T, k *kanri) {
	if r := k.do("POST", "/api/v1/audits", "tess-token", map[string]any{"programme": "2026-incident", "auditor": "alice"}); r.Status != 409 ||
		!strings.Contains(string(r.Body), "own work") {
		t.Fatalf("an auditor from the audited group: %d %s", r.Status, r.Body)
	}
	a := k.must(201, "POST", "/api/v1/audits", "tess-token", map[string]any{"programme": "2026-incident"})
	id := a["id"].(string)
	if !strings.HasPrefix(id, "AUD-") || a["auditor"] != "ivan" || a["status"] != "planned" {
		t.Fatalf("audit: %v", a)
	}
	if r := k.act("audits", id, "tess-token", map[string]any{"action": "reassign_auditor", "assignee": "bob"}); r.Status != 409 {
		t.Fatalf("reassigned to an auditor from the audited group: %d", r.Status)
	}
	k.act("audits", id, "ivan-token", map[string]any{"action": "start"})
	f := k.act("audits", id, "ivan-token", map[string]any{"action": "record_finding", "findings": []map[string]any{
		{"summary": "major incidents closed without review", "nonconformity": true, "clause": "8.6.3"}}}).json(t)
	capa := f["actions"].([]any)[0].(map[string]any)["id"].(string)
	if m := k.act("audits", id, "ivan-token", map[string]any{"action": "report", "summary": "one nonconformity"}).json(t); m["status"] != "reported" {
		t.Fatalf("report: %v", m)
	}
	verifyCorrective(t, k, capa)
	closed := k.eventually("audits", id, 10*time.Second, "the audit closes once its action is verified", func(r map[string]any) bool {
		return r["status"] == "closed"
	})
	h := actions(k.history("audits", id))
	if h[len(h)-1] != "actions_verified" {
		t.Fatalf("audit history: %v; record %v", h, closed)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
