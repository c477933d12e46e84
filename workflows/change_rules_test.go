package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/workflows"
)

var (
	ecab1 = workflows.Actor{ID: "ecab1", Roles: []string{"agent"}, Groups: []string{"ecab"}}
)

func rules() policy.ChangeRules {
	return policy.ChangeRules{
		ApprovalTimeout: 24 * hour,
		Managers:        map[string]string{"cab": "mona", "ecab": "mona"},
		TopManagement:   []string{"tess"},
		Blackouts: []policy.Blackout{{Name: "year-end freeze",
			Start: time.Date(2026, 12, 24, 0, 0, 0, 0, time.UTC), End: time.Date(2027, 1, 4, 0, 0, 0, 0, time.UTC)}},
		Release: policy.ReleaseRules{Approvers: policy.Approvers{Group: "cab", Quorum: 1}, EarlyLife: 72 * hour},
	}
}

func ruledChange(typ string) workflows.ChangeInput {
	in := changeInput(typ)
	in.Rules = rules()
	return in
}

// A submitted change still waiting for its quorum after approval_timeout
// goes to the approving group's manager, and after twice that to top
// management; the approval that comes after stops the clock.
func TestApprovalTimeoutEscalates(t *testing.T) {
	h := newHarness(t, t0)
	h.act(1*minute, as(assess, cab3))
	h.act(2*minute, as(workflows.Action{Action: "submit"}, cab3))
	h.act(60*hour, as(workflows.Action{Action: "approve"}, cab1))
	h.act(61*hour, as(workflows.Action{Action: "approve"}, cab2))
	h.stopAt(200 * hour)
	h.env.ExecuteWorkflow(workflows.ChangeWorkflow, ruledChange("normal"))
	h.requireCanceled()

	esc := h.entries("approval_escalated")
	require.Len(t, esc, 2, "manager, then top management, then no more")
	requireTime(t, t0.Add(2*minute+24*hour), esc[0].At)
	require.Equal(t, "manager", esc[0].Detail["level"])
	requireTime(t, t0.Add(2*minute+48*hour), esc[1].At)
	require.Equal(t, "top_management", esc[1].Detail["level"])
	require.Equal(t, []string{"mona", "tess"}, recipients(h.notes("approval_overdue")))
	c := h.change()
	require.Equal(t, workflows.ChgApproved, c.Status)
	require.Equal(t, 2, c.Escalation)
}

// An approval within the timeout escalates nothing.
func TestApprovalInTimeEscalatesNothing(t *testing.T) {
	h := newHarness(t, t0)
	h.act(1*minute, as(assess, cab3))
	h.act(2*minute, as(workflows.Action{Action: "submit"}, cab3))
	h.act(23*hour, as(workflows.Action{Action: "approve"}, cab1))
	h.act(23*hour+minute, as(workflows.Action{Action: "approve"}, cab2))
	h.stopAt(200 * hour)
	h.env.ExecuteWorkflow(workflows.ChangeWorkflow, ruledChange("normal"))
	h.requireCanceled()
	require.Empty(t, h.entries("approval_escalated"))
}

// A blackout refuses a normal change's window; an emergency change may be
// scheduled in it, and the history says it was.
func TestBlackoutWindows(t *testing.T) {
	in := ruledChange("normal")
	h := newHarness(t, t0)
	h.act(1*minute, as(assess, cab3))
	h.act(2*minute, as(workflows.Action{Action: "submit"}, cab3))
	h.act(3*minute, as(workflows.Action{Action: "approve"}, cab1))
	h.act(4*minute, as(workflows.Action{Action: "approve"}, cab2))
	frozen := h.act(5*minute, as(workflows.Action{Action: "schedule", Start: "2026-12-31T22:00:00Z", End: "2027-01-01T02:00:00Z"}, alice))
	edge := h.act(6*minute, as(workflows.Action{Action: "schedule", Start: "2026-12-23T22:00:00Z", End: "2026-12-24T00:00:00Z"}, alice))
	h.stopAt(10 * minute)
	h.env.ExecuteWorkflow(workflows.ChangeWorkflow, in)
	requireRejected(t, frozen, workflows.ErrConflict, "a normal change in a blackout")
	requireApplied(t, edge, "a window that ends as the blackout starts")
	sched := h.entries("schedule")
	require.Len(t, sched, 1)
	require.NotContains(t, sched[0].Detail, "blackout_override")
	p := h.last()
	require.NotNil(t, p.Schedule, "the window goes to the change schedule")
	require.Equal(t, "CHG-000001", p.Schedule.ChangeID)
	requireTime(t, time.Date(2026, 12, 23, 22, 0, 0, 0, time.UTC), p.Schedule.Start)
}

// An emergency change: its own approvers (the ECAB), submitted before its
// assessment, scheduled in a blackout on the record, and a retrospective
// review that needs the assessment first.
func TestEmergencyChange(t *testing.T) {
	in := ruledChange("emergency")
	in.Approvers = &workflows.Quorum{Group: "ecab", Quorum: 1}
	h := newHarness(t, t0)
	h.act(1*minute, as(workflows.Action{Action: "submit"}, cab3))
	cab := h.act(2*minute, as(workflows.Action{Action: "approve"}, cab1))
	h.act(3*minute, as(workflows.Action{Action: "approve"}, ecab1))
	h.act(4*minute, as(workflows.Action{Action: "schedule", Start: "2026-12-31T22:00:00Z", End: "2027-01-01T02:00:00Z"}, alice))
	h.act(5*minute, as(workflows.Action{Action: "implement"}, alice))
	h.act(6*minute, as(workflows.Action{Action: "complete", Success: &yes}, alice))
	unassessed := h.act(7*minute, as(workflows.Action{Action: "review", Summary: "done in time"}, tess))
	var waiting workflows.Change
	h.at(7*minute+30*time.Second, func() { waiting = h.change() })
	h.act(8*minute, as(assess, alice))
	h.act(9*minute, as(workflows.Action{Action: "review", Summary: "done in time"}, tess))
	h.act(10*minute, as(workflows.Action{Action: "close"}, alice))
	h.env.ExecuteWorkflow(workflows.ChangeWorkflow, in)
	h.requireFinished()
	requireRejected(t, cab, workflows.ErrForbidden, "a CAB member outside the ECAB")
	requireRejected(t, unassessed, workflows.ErrConflict, "a retrospective review without the assessment")
	require.Equal(t, "retrospective review", waiting.WaitingFor)
	require.Equal(t, "year-end freeze", h.entries("schedule")[0].Detail["blackout_override"])
	require.Equal(t, true, h.entries("review")[0].Detail["retrospective"])
	require.Equal(t, []string{"open", "submit", "approve", "schedule", "implement", "complete", "assess", "review", "close"}, h.actions())
}

// A major change, and any service removal, goes through a design-and-
// transition plan with acceptance criteria before it can be submitted
// (spec §2.1); a removal needs a removal plan as well.
func TestServiceRemovalNeedsTransitionPlan(t *testing.T) {
	in := ruledChange("major")
	in.ServiceAction = "removal"
	in.Approvers = &workflows.Quorum{Group: "cab", Quorum: 3}
	h := newHarness(t, t0)
	h.act(1*minute, as(assess, cab3))
	unplanned := h.act(2*minute, as(workflows.Action{Action: "submit"}, cab3))
	noRemoval := h.act(3*minute, as(workflows.Action{Action: "plan_transition", Plan: "migrate users to the new service", AcceptanceCriteria: []string{"no mailbox left"}}, cab3))
	h.act(4*minute, as(workflows.Action{Action: "plan_transition", Plan: "migrate users to the new service",
		AcceptanceCriteria: []string{"no mailbox left", "archive verified"}, RemovalPlan: "archive to tape, wipe disks"}, cab3))
	submit := h.act(5*minute, as(workflows.Action{Action: "submit"}, cab3))
	h.stopAt(10 * minute)
	h.env.ExecuteWorkflow(workflows.ChangeWorkflow, in)
	requireRejected(t, unplanned, workflows.ErrConflict, "submit without a transition plan")
	requireRejected(t, noRemoval, workflows.ErrInvalid, "a removal without a removal plan")
	requireApplied(t, submit, "submit with the plan")
	c := h.change()
	require.Equal(t, workflows.ChgAwaitingApproval, c.Status)
	require.Equal(t, []string{"no mailbox left", "archive verified"}, c.TransitionPlan.AcceptanceCriteria)
	require.Equal(t, "cab3", c.TransitionPlan.By)

	normal := newHarness(t, t0)
	wrong := normal.act(1*minute, as(workflows.Action{Action: "plan_transition", Plan: "x", AcceptanceCriteria: []string{"y"}}, cab3))
	normal.stopAt(2 * minute)
	normal.env.ExecuteWorkflow(workflows.ChangeWorkflow, ruledChange("normal"))
	requireRejected(t, wrong, workflows.ErrConflict, "a transition plan for a normal change")
}

// A successful change writes its CI updates to the CMDB, the planned ones
// overlaid by those the completion carries, and records the revisions; a
// failed one writes nothing.
func TestSuccessfulChangeUpdatesCMDB(t *testing.T) {
	in := ruledChange("normal")
	in.CIs = []string{"mail-app"}
	in.CIUpdates = []activities.CIUpdate{{ID: "mail-app", Version: "2.5"}, {ID: "mail-db", Version: "pg-17"}}
	h := newHarness(t, t0)
	var wrote []activities.CMDBWrite
	var a *activities.Activities
	h.env.OnActivity(a.WriteCIs, mock.Anything, mock.Anything).Return(
		func(_ context.Context, w activities.CMDBWrite) ([]activities.CIRevision, error) {
			wrote = append(wrote, w)
			var out []activities.CIRevision
			for _, u := range w.Updates {
				out = append(out, activities.CIRevision{CI: u.ID, Rev: 2, Version: u.Version})
			}
			return out, nil
		})
	h.act(1*minute, as(assess, cab3))
	h.act(2*minute, as(workflows.Action{Action: "submit"}, cab3))
	h.act(3*minute, as(workflows.Action{Action: "approve"}, cab1))
	h.act(4*minute, as(workflows.Action{Action: "approve"}, cab2))
	h.act(5*minute, as(workflows.Action{Action: "implement"}, alice))
	h.act(6*minute, as(workflows.Action{Action: "complete", Success: &yes,
		CIUpdates: []activities.CIUpdate{{ID: "mail-app", Version: "2.5.1"}}}, alice))
	h.stopAt(10 * minute)
	h.env.ExecuteWorkflow(workflows.ChangeWorkflow, in)

	require.Len(t, wrote, 1)
	require.Equal(t, "CHG-000001", wrote[0].ChangeID)
	require.Equal(t, "alice", wrote[0].By)
	require.Equal(t, []activities.CIUpdate{{ID: "mail-app", Version: "2.5.1"}, {ID: "mail-db", Version: "pg-17"}}, wrote[0].Updates)
	up := h.entries("cmdb_updated")
	require.Len(t, up, 1)
	require.Equal(t, workflows.ChgCompleted, up[0].To)
	c := h.change()
	require.Equal(t, []activities.CIRevision{{CI: "mail-app", Rev: 2, Version: "2.5.1"}, {CI: "mail-db", Rev: 2, Version: "pg-17"}}, c.CMDB)

	failed := newHarness(t, t0)
	failed.act(1*minute, as(assess, cab3))
	failed.act(2*minute, as(workflows.Action{Action: "submit"}, cab3))
	failed.act(3*minute, as(workflows.Action{Action: "approve"}, cab1))
	failed.act(4*minute, as(workflows.Action{Action: "approve"}, cab2))
	failed.act(5*minute, as(workflows.Action{Action: "implement"}, alice))
	failed.act(6*minute, as(workflows.Action{Action: "complete", Success: &no}, alice))
	failed.stopAt(10 * minute)
	failed.env.ExecuteWorkflow(workflows.ChangeWorkflow, in)
	require.Empty(t, failed.entries("cmdb_updated"))
	require.Empty(t, failed.change().CMDB)
}
