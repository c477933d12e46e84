package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/workflows"
)

func auditInput() workflows.AuditInput {
	return workflows.AuditInput{
		ID: "AUD-000001", Num: 1, Programme: "2026-incident", Title: "Incident management audit",
		Scope:    policy.AuditScope{Processes: []string{"incident"}},
		Criteria: "ISO/IEC 20000-1 8.6.1", Auditor: "ivan", Actor: paula,
		Rules: workflows.CorrectiveRules{EffectivenessAfter: 30 * supDay, ProcessOwner: "paula", TopManagement: []string{"tess"}},
	}
}

// An audit's nonconformity raises a corrective action; the reported audit
// stays open until that action is verified effective, then closes itself.
// Only the auditor records findings.
func TestAuditClosesWhenItsActionsAreVerified(t *testing.T) {
	h := newHarness(t, t0)
	h.env.RegisterWorkflow(workflows.CorrectiveWorkflow)
	h.ids()
	notAuditor := h.act(time.Hour, as(workflows.Action{Action: "start"}, sam))
	start := h.act(2*time.Hour, as(workflows.Action{Action: "start"}, ivan))
	finding := h.act(3*time.Hour, as(workflows.Action{Action: "record_finding", Findings: []workflows.Finding{
		{Summary: "major incidents closed without review", Nonconformity: true, Clause: "8.6.3"},
		{Summary: "escalation matrix is hard to find", Nonconformity: false},
	}}, ivan))
	report := h.act(4*time.Hour, as(workflows.Action{Action: "report", Summary: "one nonconformity, one observation"}, ivan))
	reported := snapshotAt[workflows.Audit](h, 5*time.Hour)
	capa := "CAPA-000001"
	d := supDay
	for i, a := range []workflows.Action{
		as(workflows.Action{Action: "confirm"}, paula),
		as(workflows.Action{Action: "analyse_cause", RootCause: "no review step in the tool"}, paula),
		as(workflows.Action{Action: "evaluate", NeedsChange: &yes, Reason: "required by 8.6.3"}, paula),
		as(workflows.Action{Action: "plan", Plan: "add the review step", Assignee: "sam", Start: t0.Add(20 * supDay).Format(time.RFC3339)}, paula),
		as(workflows.Action{Action: "record_results", Results: "review step enforced"}, sam),
	} {
		h.actOn(d+time.Duration(i)*time.Hour, capa, a)
	}
	h.actOn(d+4*time.Hour+30*supDay+time.Hour, capa, as(workflows.Action{Action: "verify", Success: &yes, Notes: "all major incidents reviewed"}, paula))
	h.env.ExecuteWorkflow(workflows.AuditWorkflow, auditInput())
	h.requireFinished()

	requireRejected(t, notAuditor, workflows.ErrForbidden, "start by someone other than the auditor")
	requireApplied(t, start, "start")
	requireApplied(t, finding, "record_finding")
	requireApplied(t, report, "report")
	rp := reported.get(t)
	require.Equal(t, workflows.AudReported, rp.Status)
	require.Equal(t, "verification of the corrective actions "+capa, rp.WaitingFor)

	acts := h.caseActions("AUD-000001")
	require.Equal(t, "actions_verified", acts[len(acts)-1])
	a := rowRecord[workflows.Audit](t, h.lastOf("AUD-000001"))
	require.Equal(t, workflows.AudClosed, a.Status)
	require.Len(t, a.Findings, 2)
	require.Equal(t, capa, a.Findings[0].Corrective)
	require.Empty(t, a.Findings[1].Corrective, "an observation raises nothing")
	require.Equal(t, []workflows.CaseState{{ID: capa, Status: workflows.CapaClosed, Success: true}}, a.Actions)
	requireTime(t, t0.Add(d+5*time.Hour+30*supDay), *a.ClosedAt)
	c := rowRecord[workflows.Corrective](t, h.lastOf(capa))
	require.Equal(t, workflows.CorrectiveSource{Kind: workflows.CapaSourceAuditFinding, ID: "AUD-000001"}, c.Source)
}
