package e2e

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// testProblemToRelease walks the whole chain of issue 3 through the API: a
// problem from its linked incidents to a known error, the RFC it raises
// through assessment, approval, a conflict-checked schedule and a release
// with a baseline and early-life support, to the CMDB update, both reviews
// and the evidence an auditor reads.
func testProblemToRelease(t *testing.T, k *kanri) {
	inc1 := newIncident(t, k, "alice-token", "Gateway crashed", "medium", "medium")["id"].(string)
	inc2 := newIncident(t, k, "alice-token", "Gateway crashed again", "medium", "medium")["id"].(string)
	if r := k.do("POST", "/api/v1/problems", "alice-token", map[string]any{"title": "x", "impact": "low", "urgency": "low", "incidents": []string{"INC-999999"}}); r.Status != 422 {
		t.Fatalf("a problem for an unknown incident: %d", r.Status)
	}
	p := k.must(201, "POST", "/api/v1/problems", "alice-token", map[string]any{
		"title": "Mail gateway crashes under load", "service": "email", "impact": "high", "urgency": "medium",
		"incidents": []string{inc1, inc2},
	})
	prb := p["id"].(string)
	if !strings.HasPrefix(prb, "PRB-") || p["priority"] != "P2" {
		t.Fatalf("problem: %v", p)
	}
	// Each linked incident shows its problem.
	for _, inc := range []string{inc1, inc2} {
		k.eventually("incidents", inc, 10*time.Second, "link to the problem", func(m map[string]any) bool {
			return hasLink(m, "problems", prb)
		})
	}

	// Investigation and the known error, which agents find by its text.
	k.act("problems", prb, "alice-token", map[string]any{"action": "investigate"})
	k.act("problems", prb, "alice-token", map[string]any{"action": "record_known_error",
		"root_cause": "TLS ライブラリのメモリリーク", "workaround": "restart the gateway nightly", "needs_change": true})
	shown := k.must(200, "GET", "/api/v1/incidents/"+inc2, "bob-token", nil)["known_errors"].([]any)
	if len(shown) != 1 || shown[0].(map[string]any)["workaround"] != "restart the gateway nightly" {
		t.Fatalf("the linked incident does not show the known error: %v", shown)
	}
	ke := k.must(200, "GET", "/api/v1/known-errors?q="+url.QueryEscape("メモリリーク"), "bob-token", nil)
	if items := ke["items"].([]any); len(items) != 1 || items[0].(map[string]any)["problem_id"] != prb ||
		items[0].(map[string]any)["workaround"] != "restart the gateway nightly" {
		t.Fatalf("known errors: %v", ke)
	}
	if r := k.do("GET", "/api/v1/known-errors?q=x", "rita-token", nil); r.Status != 403 {
		t.Fatalf("a requester searched the known errors: %d", r.Status)
	}
	if r := k.act("problems", prb, "alice-token", map[string]any{"action": "resolve", "resolution": "patched"}); r.Status != 409 {
		t.Fatalf("resolved without an RFC: %d", r.Status)
	}
	if r := k.act("problems", prb, "alice-token", map[string]any{"action": "raise_change", "type": "normal", "backout_plan": "downgrade",
		"cis": []string{"no-such-ci"}}); r.Status != 422 {
		t.Fatalf("an RFC on an unknown CI: %d %s", r.Status, r.Body)
	}
	m := k.act("problems", prb, "alice-token", map[string]any{"action": "raise_change", "type": "normal", "backout_plan": "downgrade",
		"cis":        []string{"mail-app"},
		"ci_updates": []map[string]any{{"id": "mail-app", "version": "2.5", "attributes": map[string]string{"tls": "3.1"}}},
	}).json(t)
	chg := m["rfcs"].([]any)[0].(string)
	c := k.must(200, "GET", "/api/v1/changes/"+chg, "alice-token", nil)
	if c["status"] != "requested" || c["created_by"] != "alice" {
		t.Fatalf("RFC: %v", c)
	}
	k.act("problems", prb, "alice-token", map[string]any{"action": "resolve", "resolution": "patched by " + chg})
	if r := k.act("problems", prb, "alice-token", map[string]any{"action": "close"}); r.Status != 409 {
		t.Fatalf("a problem that needs a change closed before the change completed: %d", r.Status)
	}

	// The RFC: assessment, approval by the CAB, not by its requester.
	k.act("changes", chg, "alice-token", map[string]any{"action": "assess", "risk": "medium", "impact": "mail restarts",
		"benefit": "no more crashes", "feasibility": "tested in staging", "cost": "2h", "security": "TLS patched"})
	k.act("changes", chg, "alice-token", map[string]any{"action": "submit"})
	if r := k.act("changes", chg, "alice-token", map[string]any{"action": "approve"}); r.Status != 403 {
		t.Fatalf("the requester approved: %d", r.Status)
	}
	k.act("changes", chg, "cab1-token", map[string]any{"action": "approve", "comment": "go"})
	if m := k.act("changes", chg, "cab2-token", map[string]any{"action": "approve", "comment": "go too"}).json(t); m["status"] != "approved" {
		t.Fatalf("after quorum: %v", m)
	}

	// Another change on the server the mail application runs on holds a
	// window; a blackout and an overlapping window are refused.
	now := time.Now().UTC().Truncate(time.Second)
	other := k.must(201, "POST", "/api/v1/changes", "bob-token", map[string]any{"title": "Patch the application server",
		"type": "standard", "standard_change": "password reset", "cis": []string{"srv-01"}})["id"].(string)
	k.act("changes", other, "bob-token", map[string]any{"action": "schedule", "start": rfc(now.Add(2 * time.Hour)), "end": rfc(now.Add(3 * time.Hour))})
	if r := k.act("changes", chg, "alice-token", map[string]any{"action": "schedule", "start": "2030-12-31T22:00:00Z", "end": "2031-01-01T01:00:00Z"}); r.Status != 409 ||
		!strings.Contains(string(r.Body), "year-end freeze") {
		t.Fatalf("a window in the blackout: %d %s", r.Status, r.Body)
	}
	if r := k.act("changes", chg, "alice-token", map[string]any{"action": "schedule", "start": rfc(now.Add(150 * time.Minute)), "end": rfc(now.Add(4 * time.Hour))}); r.Status != 409 ||
		!strings.Contains(string(r.Body), other) {
		t.Fatalf("a window that conflicts with %s on a dependent CI: %d %s", other, r.Status, r.Body)
	}
	k.act("changes", chg, "alice-token", map[string]any{"action": "schedule", "start": rfc(now.Add(-time.Minute)), "end": rfc(now.Add(time.Hour))})
	sched := k.must(200, "GET", "/api/v1/changes/schedule?from="+url.QueryEscape(rfc(now.Add(-time.Hour)))+"&to="+url.QueryEscape(rfc(now.Add(5*time.Hour))), "tess-token", nil)
	var ids []string
	for _, it := range sched["items"].([]any) {
		ids = append(ids, it.(map[string]any)["change_id"].(string))
	}
	if !slices.Equal(ids, []string{chg, other}) {
		t.Fatalf("schedule: %v", sched)
	}
	ics := k.do("GET", "/api/v1/changes/schedule?format=ics&from="+url.QueryEscape(rfc(now.Add(-time.Hour)))+"&to="+url.QueryEscape(rfc(now.Add(5*time.Hour))), "tess-token", nil)
	if ics.Status != 200 || !strings.HasPrefix(ics.Type, "text/calendar") || !strings.Contains(string(ics.Body), "UID:"+chg+"@kanri\r\n") ||
		!strings.HasPrefix(string(ics.Body), "BEGIN:VCALENDAR\r\n") {
		t.Fatalf("iCalendar feed: %d %s %s", ics.Status, ics.Type, ics.Body)
	}

	// A release planned on the change: built, tested against its criteria,
	// approved, and deployed only while the change implements.
	rel := k.must(201, "POST", "/api/v1/releases", "alice-token", map[string]any{"change": chg, "title": "Mail gateway 2.5",
		"acceptance_criteria": []string{"mail flows both ways", "no crash under the load test"}})
	relID := rel["id"].(string)
	if !strings.HasPrefix(relID, "REL-") || rel["status"] != "planned" || rel["change"] != chg {
		t.Fatalf("release: %v", rel)
	}
	k.act("releases", relID, "alice-token", map[string]any{"action": "build", "version": "2.5.0"})
	k.act("releases", relID, "alice-token", map[string]any{"action": "test", "passed": true, "results": "both criteria met in staging"})
	k.act("releases", relID, "cab1-token", map[string]any{"action": "approve", "comment": "ship"})
	if r := k.act("releases", relID, "alice-token", map[string]any{"action": "deploy"}); r.Status != 409 {
		t.Fatalf("deployed before the change implements: %d %s", r.Status, r.Body)
	}
	k.act("changes", chg, "alice-token", map[string]any{"action": "implement"})
	if r := k.act("changes", chg, "alice-token", map[string]any{"action": "complete", "success": true}); r.Status != 409 {
		t.Fatalf("completed before the release deployed: %d %s", r.Status, r.Body)
	}
	k.eventually("releases", relID, 10*time.Second, "the change's status", func(m map[string]any) bool { return m["change_status"] == "implementing" })
	if m := k.act("releases", relID, "alice-token", map[string]any{"action": "deploy"}).json(t); m["status"] != "early_life" ||
		m["baseline"].(map[string]any)["items"].([]any)[0].(map[string]any)["ci"] != "mail-app" {
		t.Fatalf("deploy: %v", m)
	}
	bl := k.must(200, "GET", "/api/v1/baselines?release="+relID, "tess-token", nil)["items"].([]any)
	if len(bl) != 1 || bl[0].(map[string]any)["items"].([]any)[0].(map[string]any)["version"] != "2.4" {
		t.Fatalf("baseline before deployment: %v", bl)
	}

	// Success writes the CMDB: a new revision that names the change. A
	// direct edit without a change is refused.
	k.eventually("changes", chg, 10*time.Second, "the release's deployment", func(m map[string]any) bool {
		return m["waiting_for"] == "completion of the implementation"
	})
	if m := k.act("changes", chg, "alice-token", map[string]any{"action": "complete", "success": true, "notes": "gateway on 2.5"}).json(t); m["status"] != "completed" ||
		len(m["cmdb"].([]any)) != 1 {
		t.Fatalf("complete: %v", m)
	}
	ci := k.must(200, "GET", "/api/v1/cis/mail-app", "bob-token", nil)
	if ci["version"] != "2.5" || ci["change_id"] != chg || ci["rev"] != 2.0 || ci["attributes"].(map[string]any)["tls"] != "3.1" || len(ci["revisions"].([]any)) != 2 {
		t.Fatalf("CI after the change: %v", ci)
	}
	if r := k.do("PATCH", "/api/v1/cis/mail-app", "admin-token", map[string]any{"version": "9"}); r.Status != 409 {
		t.Fatalf("a CI edit without a change: %d %s", r.Status, r.Body)
	}
	if r := k.do("PATCH", "/api/v1/cis/mail-app", "admin-token", map[string]any{"change": chg, "version": "9"}); r.Status != 409 {
		t.Fatalf("a second revision from the same change: %d %s", r.Status, r.Body)
	}
	im := k.must(200, "GET", "/api/v1/cis/srv-02/impact", "bob-token", nil)
	var impacted []string
	for _, it := range im["cis"].([]any) {
		impacted = append(impacted, it.(map[string]any)["id"].(string))
	}
	slices.Sort(impacted)
	if !slices.Equal(impacted, []string{"mail-app", "mail-db"}) || fmt.Sprint(im["services"]) != "[email]" {
		t.Fatalf("impact of srv-02: %v", im)
	}

	// The problem hears that its change completed, and closes after its
	// review.
	k.eventually("problems", prb, 10*time.Second, "the RFC's completion", func(m map[string]any) bool {
		return strings.HasPrefix(fmt.Sprint(m["waiting_for"]), "review")
	})
	k.act("problems", prb, "tess-token", map[string]any{"action": "review", "summary": "no crash since"})
	if m := k.act("problems", prb, "alice-token", map[string]any{"action": "close"}).json(t); m["status"] != "closed" {
		t.Fatalf("problem close: %v", m)
	}

	// Early life ends by itself (2s in this configuration), then both
	// reviews and the closures.
	r := k.eventually("releases", relID, 20*time.Second, "the end of early life", func(m map[string]any) bool { return m["status"] == "deployed" })
	if r["deployment"].(map[string]any)["incidents"] == nil {
		t.Fatalf("early life counted no incidents: %v", r)
	}
	k.act("releases", relID, "tess-token", map[string]any{"action": "review", "summary": "quiet early life"})
	k.act("releases", relID, "alice-token", map[string]any{"action": "close"})
	k.act("changes", chg, "tess-token", map[string]any{"action": "review", "summary": "crashes gone"})
	k.act("changes", chg, "alice-token", map[string]any{"action": "close"})

	// The evidence an auditor samples.
	ev := k.must(200, "GET", "/api/v1/changes/"+chg+"/evidence", "tess-token", nil)
	ch := ev["change"].(map[string]any)
	if ch["status"] != "closed" || ch["assessment"].(map[string]any)["security"] != "TLS patched" || ch["review"].(map[string]any)["by"] != "tess" {
		t.Fatalf("evidence: change %v", ch)
	}
	var approvals []string
	for _, a := range ch["approvals"].([]any) {
		a := a.(map[string]any)
		if a["at"] == nil || a["at"] == "" {
			t.Fatalf("an approval without its time: %v", a)
		}
		approvals = append(approvals, fmt.Sprint(a["by"], ":", a["comment"]))
	}
	if !slices.Equal(approvals, []string{"cab1:go", "cab2:go too"}) {
		t.Fatalf("evidence approvals: %v", approvals)
	}
	if ch["schedule"] == nil || ch["outcome"].(map[string]any)["success"] != true {
		t.Fatalf("evidence schedule and outcome: %v", ch)
	}
	rels := ev["releases"].([]any)
	if len(rels) != 1 {
		t.Fatalf("evidence releases: %v", rels)
	}
	er := rels[0].(map[string]any)
	if er["status"] != "closed" || len(er["tests"].([]any)) != 1 || er["baseline"] == nil || er["deployment"] == nil {
		t.Fatalf("evidence release: %v", er)
	}
	cmdb := ev["cmdb"].([]any)
	if len(cmdb) != 1 || cmdb[0].(map[string]any)["id"] != "mail-app" || cmdb[0].(map[string]any)["change_id"] != chg {
		t.Fatalf("evidence CMDB: %v", cmdb)
	}
	var acts []string
	for _, h := range ev["history"].([]any) {
		acts = append(acts, h.(map[string]any)["action"].(string))
	}
	for _, want := range []string{"open", "assess", "submit", "approve", "schedule", "plan_release", "implement", "release_early_life", "complete", "cmdb_updated", "review", "close"} {
		if !slices.Contains(acts, want) {
			t.Fatalf("evidence history lacks %s: %v", want, acts)
		}
	}
	if r := k.do("GET", "/api/v1/changes/"+chg+"/evidence", "rita-token", nil); r.Status != 403 {
		t.Fatalf("a requester read the evidence: %d", r.Status)
	}

	// The trend report counts the incidents behind each problem.
	trend := k.must(200, "GET", "/api/v1/reports/problems", "tess-token", nil)["items"].([]any)
	found := false
	for _, it := range trend {
		it := it.(map[string]any)
		if it["problem"] == prb {
			found = it["count"] == 2.0
		}
	}
	if !found {
		t.Fatalf("trend report: %v", trend)
	}
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func hasLink(m map[string]any, kind, id string) bool {
	links, _ := m["links"].([]any)
	for _, l := range links {
		l := l.(map[string]any)
		if l["kind"] == kind && l["id"] == id {
			return true
		}
	}
	return false
}
