package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kanri-itsm/kanri/workflows"
)

var (
	cab1   = workflows.Actor{ID: "cab1", Roles: []string{"agent"}, Groups: []string{"cab"}}
	cab2   = workflows.Actor{ID: "cab2", Roles: []string{"agent"}, Groups: []string{"cab"}}
	cab3   = workflows.Actor{ID: "cab3", Roles: []string{"agent"}, Groups: []string{"cab"}}
	yes    = true
	no     = false
	assess = workflows.Action{Action: "assess", Risk: "medium", Impact: "mail delayed", Benefit: "fixes",
		Feasibility: "tested", Cost: "2h", Security: "none"}
)

func changeInput(typ string) workflows.ChangeInput {
	in := workflows.ChangeInput{ID: "CHG-000001", Num: 1, Title: "Upgrade the mail gateway", Type: typ,
		Services: []string{"email"}, BackoutPlan: "restore the snapshot", Actor: cab3, Source: "api"}
	if typ == "standard" {
		in.StandardChange, in.BackoutPlan = "password reset", ""
	} else {
		in.Approvers = &workflows.Quorum{Group: "cab", Quorum: 2}
	}
	return in
}

func as(a workflows.Action, who workflows.Actor) workflows.Action {
	a.Actor = who
	return a
}

func (h *harness) change() workflows.Change {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(workflows.QueryRecord)
	require.NoError(h.t, err)
	var c workflows.Change
	require.NoError(h.t, v.Get(&c))
	return c
}

// A normal change from request to closure: the assessment is recorded, two
// of the CAB approve, the requester may not, the schedule and outcome are
// kept, and the post-implementation review comes before closure.
func TestChangeLifecycle(t *testing.T) {
	h := newHarness(t, t0)
	submitEarly := h.act(1*minute, as(workflows.Action{Action: "submit"}, cab3))
	h.act(2*minute, as(assess, cab3))
	h.act(3*minute, as(workflows.Action{Action: "submit"}, cab3))
	own := h.act(4*minute, as(workflows.Action{Action: "approve"}, cab3))
	outsider := h.act(5*minute, as(workflows.Action{Action: "approve"}, alice))
	h.act(6*minute, as(workflows.Action{Action: "approve", Comment: "ok"}, cab1))
	twice := h.act(7*minute, as(workflows.Action{Action: "approve"}, cab1))
	var waiting workflows.Change
	h.at(8*minute, func() { waiting = h.change() })
	h.act(9*minute, as(workflows.Action{Action: "approve", Comment: "ok too"}, cab2))
	badWindow := h.act(10*minute, as(workflows.Action{Action: "schedule", Start: "tomorrow", End: "later"}, alice))
	h.act(11*minute, as(workflows.Action{Action: "schedule", Start: "2026-12-01T22:00:00Z", End: "2026-12-01T23:00:00Z"}, alice))
	h.act(12*minute, as(workflows.Action{Action: "implement"}, alice))
	noOutcome := h.act(13*minute, as(workflows.Action{Action: "complete"}, alice))
	h.act(14*minute, as(workflows.Action{Action: "complete", Success: &yes, Notes: "done"}, alice))
	agentReview := h.act(15*minute, as(workflows.Action{Action: "review", Summary: "fine"}, alice))
	closeEarly := h.act(16*minute, as(workflows.Action{Action: "close"}, alice))
	h.act(17*minute, as(workflows.Action{Action: "review", Summary: "no incidents after"}, tess))
	h.act(18*minute, as(workflows.Action{Action: "close"}, alice))
	h.env.ExecuteWorkflow(workflows.ChangeWorkflow, changeInput("normal"))
	h.requireFinished()

	requireRejected(t, submitEarly, workflows.ErrConflict, "submit before assessment")
	requireRejected(t, own, workflows.ErrForbidden, "requester approves own change")
	requireRejected(t, outsider, workflows.ErrForbidden, "non-member approves")
	requireRejected(t, twice, workflows.ErrConflict, "one approver twice")
	requireRejected(t, badWindow, workflows.ErrInvalid, "schedule with bad times")
	requireRejected(t, noOutcome, workflows.ErrInvalid, "complete without success")
	requireRejected(t, agentReview, workflows.ErrForbidden, "review by an agent")
	requireRejected(t, closeEarly, workflows.ErrConflict, "close before review")

	require.Equal(t, workflows.ChgAwaitingApproval, waiting.Status)
	require.Equal(t, "approval by cab (1 of 2)", waiting.WaitingFor)
	require.Equal(t, []string{"open", "assess", "submit", "approve", "approve", "schedule", "implement", "complete", "review", "close"}, h.actions())
	c := h.change()
	require.Equal(t, workflows.ChgClosed, c.Status)
	require.Len(t, c.Approvals, 2)
	require.Equal(t, "cab1", c.Approvals[0].By)
	require.Equal(t, "ok", c.Approvals[0].Comment)
	requireTime(t, t0.Add(6*minute), c.Approvals[0].At)
	require.Equal(t, "medium", c.Assessment.Risk)
	require.Equal(t, "cab3", c.Assessment.By)
	require.True(t, c.Outcome.Success)
	require.Equal(t, "tess", c.Review.By)
	requireTime(t, time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC), c.Schedule.Start)
	require.Equal(t, []string{"group:cab"}, recipients(h.notes("approval_requested")))
	require.Equal(t, []string{"cab3"}, recipients(h.notes("approved")))
}

// A standard change is approved at creation and never waits for approval.
func TestStandardChangeIsPreApproved(t *testing.T) {
	h := newHarness(t, t0)
	submit := h.act(1*minute, as(workflows.Action{Action: "submit"}, alice))
	approve := h.act(2*minute, as(workflows.Action{Action: "approve"}, cab1))
	h.act(3*minute, as(workflows.Action{Action: "implement"}, alice))
	h.act(4*minute, as(workflows.Action{Action: "complete", Success: &yes}, alice))
	h.act(5*minute, as(workflows.Action{Action: "close"}, alice))
	h.env.ExecuteWorkflow(workflows.ChangeWorkflow, changeInput("standard"))
	h.requireFinished()
	requireRejected(t, submit, workflows.ErrConflict, "submit of a standard change")
	requireRejected(t, approve, workflows.ErrConflict, "approve of a standard change")
	open := h.entries("open")[0]
	require.Equal(t, workflows.ChgApproved, open.To)
	require.Equal(t, "password reset", open.Detail["pre_approved"])
	require.Equal(t, []string{"open", "implement", "complete", "close"}, h.actions())
}

// One rejection rejects, and the workflow ends.
func TestChangeRejection(t *testing.T) {
	h := newHarness(t, t0)
	h.act(1*minute, as(assess, cab3))
	h.act(2*minute, as(workflows.Action{Action: "submit"}, cab3))
	h.act(3*minute, as(workflows.Action{Action: "approve"}, cab1))
	h.act(4*minute, as(workflows.Action{Action: "reject", Comment: "no benefit"}, cab2))
	h.env.ExecuteWorkflow(workflows.ChangeWorkflow, changeInput("normal"))
	h.requireFinished()
	c := h.change()
	require.Equal(t, workflows.ChgRejected, c.Status)
	require.Equal(t, "rejected", c.Approvals[1].Decision)
	require.Equal(t, []string{"cab3"}, recipients(h.notes("rejected")))
}

// A failed implementation is backed out and reviewed before it closes.
func TestFailedChangeIsBackedOut(t *testing.T) {
	h := newHarness(t, t0)
	h.act(1*minute, as(assess, cab3))
	h.act(2*minute, as(workflows.Action{Action: "submit"}, cab3))
	h.act(3*minute, as(workflows.Action{Action: "approve"}, cab1))
	h.act(4*minute, as(workflows.Action{Action: "approve"}, cab2))
	h.act(5*minute, as(workflows.Action{Action: "implement"}, alice))
	h.act(6*minute, as(workflows.Action{Action: "complete", Success: &no, Notes: "gateway did not start"}, alice))
	h.act(7*minute, as(workflows.Action{Action: "back_out", Reason: "restored the snapshot"}, alice))
	uninvestigated := h.act(8*minute, as(workflows.Action{Action: "review", Summary: "test the start-up in staging"}, tess))
	h.act(9*minute, as(workflows.Action{Action: "investigate", Summary: "the start-up script needs the new config path"}, alice))
	h.act(10*minute, as(workflows.Action{Action: "review", Summary: "test the start-up in staging"}, tess))
	h.act(11*minute, as(workflows.Action{Action: "close"}, alice))
	h.env.ExecuteWorkflow(workflows.ChangeWorkflow, changeInput("normal"))
	h.requireFinished()
	requireRejected(t, uninvestigated, workflows.ErrConflict, "review of a failure before its investigation")
	require.Equal(t, []string{"open", "assess", "submit", "approve", "approve", "implement", "complete", "back_out", "investigate", "review", "close"}, h.actions())
	complete := h.entries("complete")[0]
	require.Equal(t, workflows.ChgFailed, complete.To)
	back := h.entries("back_out")[0]
	require.Equal(t, workflows.ChgFailed, back.From)
	require.Equal(t, workflows.ChgBackedOut, back.To)
}

// A failed change may be remedied instead of backed out; either way the
// failure is investigated before the review.
func TestFailedChangeIsRemedied(t *testing.T) {
	h := newHarness(t, t0)
	h.act(1*minute, as(assess, cab3))
	h.act(2*minute, as(workflows.Action{Action: "submit"}, cab3))
	h.act(3*minute, as(workflows.Action{Action: "approve"}, cab1))
	h.act(4*minute, as(workflows.Action{Action: "approve"}, cab2))
	h.act(5*minute, as(workflows.Action{Action: "implement"}, alice))
	h.act(6*minute, as(workflows.Action{Action: "complete", Success: &no, Notes: "one node did not start"}, alice))
	unremedied := h.act(7*minute, as(workflows.Action{Action: "review", Summary: "x"}, tess))
	noNotes := h.act(8*minute, as(workflows.Action{Action: "remediate"}, alice))
	h.act(9*minute, as(workflows.Action{Action: "remediate", Notes: "started the node by hand"}, alice))
	var waiting workflows.Change
	h.at(9*minute+30*second, func() { waiting = h.change() })
	h.act(10*minute, as(workflows.Action{Action: "investigate", Summary: "the node's unit file was stale"}, alice))
	h.act(11*minute, as(workflows.Action{Action: "review", Summary: "automate the unit files"}, tess))
	h.act(12*minute, as(workflows.Action{Action: "close"}, alice))
	h.env.ExecuteWorkflow(workflows.ChangeWorkflow, changeInput("normal"))
	h.requireFinished()
	requireRejected(t, unremedied, workflows.ErrConflict, "review of a failure neither backed out nor remedied")
	requireRejected(t, noNotes, workflows.ErrInvalid, "remediate without notes")
	require.Equal(t, "investigation of the failure", waiting.WaitingFor)
	c := h.change()
	require.Equal(t, "started the node by hand", c.Remediation.Summary)
	require.Equal(t, "alice", c.Investigation.By)
	require.Equal(t, workflows.ChgClosed, c.Status)
}
