package e2e

import (
	"strings"
	"testing"
	"time"
)

// testCorrective raises a corrective action from a major incident's review
// and takes it to the point where its effectiveness is checked: the check
// is refused before it is due, and a proposal that no action is needed is
// never approved by its proposer.
func testCorrective(t *testing.T, k *kanri) {
	inc := newIncident(t, k, "alice-token", "Mail outage", "high", "high")["id"].(string)
	if r := k.do("POST", "/api/v1/corrective-actions", "alice-token", map[string]any{"title": "x", "source_kind": "rumour"}); r.Status != 422 {
		t.Fatalf("an unknown source kind: %d", r.Status)
	}
	if r := k.do("POST", "/api/v1/corrective-actions", "rita-token", map[string]any{"title": "x"}); r.Status != 403 {
		t.Fatalf("a requester raised a corrective action: %d", r.Status)
	}
	c := k.must(201, "POST", "/api/v1/corrective-actions", "alice-token", map[string]any{
		"title": "Disk alerts missed", "source_kind": "major_incident_review", "source_id": inc, "owner": "bob", "group": "second-line"})
	id := c["id"].(string)
	if !strings.HasPrefix(id, "CAPA-") || c["status"] != "raised" || !hasLink(c, "incidents", inc) {
		t.Fatalf("corrective action: %v", c)
	}
	k.act("corrective-actions", id, "alice-token", map[string]any{"action": "confirm"})
	k.act("corrective-actions", id, "alice-token", map[string]any{"action": "analyse_cause", "root_cause": "no alert on disk usage"})
	k.act("corrective-actions", id, "alice-token", map[string]any{"action": "evaluate", "needs_change": true, "reason": "it will recur"})
	due := time.Now().Add(14 * 24 * time.Hour).UTC().Format(time.RFC3339)
	if m := k.act("corrective-actions", id, "alice-token", map[string]any{"action": "plan", "plan": "alert at 80%", "assignee": "bob", "start": due}).json(t); m["status"] != "planned" {
		t.Fatalf("plan: %v", m)
	}
	if m := k.act("corrective-actions", id, "bob-token", map[string]any{"action": "record_results", "results": "alert added"}).json(t); m["status"] != "implemented" {
		t.Fatalf("results: %v", m)
	}
	if r := k.act("corrective-actions", id, "tess-token", map[string]any{"action": "verify", "success": true, "notes": "too soon"}); r.Status != 409 {
		t.Fatalf("an effectiveness check before it is due: %d %s", r.Status, r.Body)
	}
	h := actions(k.history("corrective-actions", id))
	if strings.Join(h, ",") != "open,confirm,analyse_cause,evaluate,plan,record_results" {
		t.Fatalf("history: %v", h)
	}

	other := k.must(201, "POST", "/api/v1/corrective-actions", "tess-token", map[string]any{"title": "Typo in the runbook"})["id"].(string)
	k.act("corrective-actions", other, "tess-token", map[string]any{"action": "no_action", "reason": "cosmetic"})
	if r := k.act("corrective-actions", other, "tess-token", map[string]any{"action": "approve_no_action"}); r.Status != 403 {
		t.Fatalf("the proposer approved no action: %d", r.Status)
	}
}

// testComplaint: a requester complains, the service desk works it and
// reports back, the complainant disputes once and then accepts, and only
// then may it close. Others may not speak for the complainant.
func testComplaint(t *testing.T, k *kanri) {
	c := k.must(201, "POST", "/api/v1/complaints", "rita-token", map[string]any{"title": "Nobody answered my ticket for a week", "service": "email"})
	id := c["id"].(string)
	if !strings.HasPrefix(id, "CMP-") || c["status"] != "received" {
		t.Fatalf("complaint: %v", c)
	}
	if r := k.do("GET", "/api/v1/complaints/"+id, "ron-token", nil); r.Status != 404 {
		t.Fatalf("another requester read the complaint: %d", r.Status)
	}
	k.act("complaints", id, "alice-token", map[string]any{"action": "record", "impact": "medium", "reason": "responsiveness"})
	k.act("complaints", id, "alice-token", map[string]any{"action": "investigate"})
	k.act("complaints", id, "alice-token", map[string]any{"action": "act", "summary": "queue reassigned; daily check added"})
	k.act("complaints", id, "alice-token", map[string]any{"action": "report", "summary": "We added a daily check of the queue."})
	if r := k.act("complaints", id, "alice-token", map[string]any{"action": "accept"}); r.Status != 403 {
		t.Fatalf("staff accepted for the complainant: %d", r.Status)
	}
	if r := k.act("complaints", id, "alice-token", map[string]any{"action": "close"}); r.Status != 409 {
		t.Fatalf("closed before the complainant answered: %d", r.Status)
	}
	if m := k.act("complaints", id, "rita-token", map[string]any{"action": "dispute", "reason": "still slow"}).json(t); m["status"] != "investigating" {
		t.Fatalf("dispute: %v", m)
	}
	k.act("complaints", id, "alice-token", map[string]any{"action": "act", "summary": "a second agent on the queue"})
	k.act("complaints", id, "alice-token", map[string]any{"action": "report", "summary": "A second agent now works the queue."})
	k.act("complaints", id, "rita-token", map[string]any{"action": "accept"})
	if m := k.act("complaints", id, "alice-token", map[string]any{"action": "close"}).json(t); m["status"] != "closed" {
		t.Fatalf("close: %v", m)
	}
}
