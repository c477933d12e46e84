package workflows_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kanri-itsm/kanri/workflows"
)

func TestRequestWithoutApproval(t *testing.T) {
	h := newHarness(t, t0)
	opened := snapshotAt[workflows.Request](h, minute)
	st := h.act(10*minute, workflows.Action{Action: "start", Actor: alice})
	ful := h.act(2*hour, workflows.Action{Action: "fulfil", Actor: alice, Resolution: "password reset, sent by SMS"})
	fulfilled := snapshotAt[workflows.Request](h, 2*hour+second)
	h.env.ExecuteWorkflow(workflows.RequestWorkflow, requestInput(requestPolicy(t, "password-reset")))
	h.requireFinished()
	requireApplied(t, st, "start")
	requireApplied(t, ful, "fulfil")

	o := opened.get(t)
	require.Equal(t, workflows.ReqLogged, o.Status)
	require.Equal(t, "password-reset", o.Item)
	require.Equal(t, "Password reset", o.ItemName)
	require.Equal(t, "service-desk", o.Group)
	require.Nil(t, o.Approval)
	require.NotNil(t, o.SLA.ResponseDue, "the clocks start at logging")
	require.NotNil(t, o.SLA.ResolutionDue)
	requireTime(t, t0.Add(hour), *o.SLA.ResponseDue)
	requireTime(t, t0.Add(4*hour), *o.SLA.ResolutionDue)
	require.Equal(t, "first response by service-desk until 2026-03-02T09:00:00Z", o.WaitingFor)

	op := h.entries("open")[0]
	require.Equal(t, "rita", op.Actor)
	require.Equal(t, "", op.From)
	require.Equal(t, workflows.ReqLogged, op.To)
	require.Equal(t, "password-reset", op.Detail["item"])
	p := h.projectionOf(op.Seq)
	require.Empty(t, p.Notes, "nothing to approve, nobody to ask")
	require.Equal(t, "requests", p.Case.Kind)
	require.Equal(t, "REQ-000001", p.Case.ID)

	f := fulfilled.get(t)
	require.Equal(t, workflows.ReqFulfilled, f.Status)
	require.Equal(t, "caller confirmation until 2026-03-05T10:00:00Z", f.WaitingFor)
	require.Equal(t, []string{"rita"}, recipients(h.notes("fulfilled")))

	ac := h.entries("auto_close")
	require.Len(t, ac, 1)
	requireTime(t, t0.Add(2*hour+72*hour), ac[0].At)
	require.Equal(t, workflows.ReqFulfilled, ac[0].From)
	require.Equal(t, workflows.ReqClosed, ac[0].To)
	require.Equal(t, []string{"open", "start", "fulfil", "auto_close"}, h.actions(),
		"no SLA timer while fulfilled; the 3h warning did not come as the request was fulfilled at 2h")
	c := h.request()
	require.Equal(t, workflows.ReqClosed, c.Status)
	requireTime(t, t0.Add(74*hour), *c.ClosedAt)
}

func TestRequestApprovalQuorum(t *testing.T) {
	h := newHarness(t, t0)
	opened := snapshotAt[workflows.Request](h, minute)
	self := h.act(10*minute, workflows.Action{Action: "approve", Actor: rita, Comment: "I need it"})
	outsider := h.act(11*minute, workflows.Action{Action: "approve", Actor: eve})
	startEarly := h.act(12*minute, workflows.Action{Action: "start", Actor: alice})
	first := h.act(hour, workflows.Action{Action: "approve", Actor: mona, Comment: "ok"})
	one := snapshotAt[workflows.Request](h, hour+second)
	twice := h.act(2*hour, workflows.Action{Action: "approve", Actor: mona, Comment: "really ok"})
	twiceReject := h.act(2*hour+minute, workflows.Action{Action: "reject", Actor: mona})
	secondApproval := h.act(3*hour, workflows.Action{Action: "approve", Actor: mark, Comment: "fine"})
	approved := snapshotAt[workflows.Request](h, 3*hour+second)
	late := h.act(3*hour+2*second, workflows.Action{Action: "approve", Actor: mark})
	h.act(4*hour, workflows.Action{Action: "start", Actor: alice})
	ful := h.act(5*hour, workflows.Action{Action: "fulfil", Actor: alice, Resolution: "laptop handed over"})
	h.env.ExecuteWorkflow(workflows.RequestWorkflow, requestInput(requestPolicy(t, "new-laptop")))
	h.requireFinished()

	requireRejected(t, self, workflows.ErrForbidden, "the caller approves her own request")
	requireRejected(t, outsider, workflows.ErrForbidden, "a non-member approves")
	requireRejected(t, startEarly, workflows.ErrConflict, "start before approval")
	requireApplied(t, first, "first approval")
	requireRejected(t, twice, workflows.ErrConflict, "the same approver twice")
	requireRejected(t, twiceReject, workflows.ErrConflict, "the same approver rejects after approving")
	requireApplied(t, secondApproval, "second approval")
	requireRejected(t, late, workflows.ErrConflict, "approve once approved")
	requireApplied(t, ful, "fulfil")

	o := opened.get(t)
	require.Equal(t, workflows.ReqAwaitingApproval, o.Status)
	require.Equal(t, &workflows.Quorum{Group: "managers", Quorum: 2}, o.Approval)
	require.Nil(t, o.SLA.ResponseDue, "no clock runs before approval")
	require.Nil(t, o.SLA.ResolutionDue)
	require.Equal(t, "approval by managers (0 of 2)", o.WaitingFor)
	openNotes := h.projectionOf(h.entries("open")[0].Seq).Notes
	// By mail and in Slack, where the approvers click.
	require.Len(t, openNotes, 2)
	require.Equal(t, "group:managers", openNotes[0].Recipient)
	require.Equal(t, "approval_requested", openNotes[0].Event)
	require.Equal(t, []string{"email", "slack"}, []string{openNotes[0].Channel, openNotes[1].Channel})

	a1 := one.get(t)
	require.Equal(t, workflows.ReqAwaitingApproval, a1.Status)
	require.Equal(t, "approval by managers (1 of 2)", a1.WaitingFor)
	require.Len(t, a1.Approvals, 1)
	require.Equal(t, "mona", a1.Approvals[0].By)
	require.Equal(t, "approved", a1.Approvals[0].Decision)
	require.Equal(t, "ok", a1.Approvals[0].Comment)
	requireTime(t, t0.Add(hour), a1.Approvals[0].At)
	require.Nil(t, a1.SLA.ResponseDue)

	a2 := approved.get(t)
	require.Equal(t, workflows.ReqLogged, a2.Status)
	require.Len(t, a2.Approvals, 2)
	require.NotNil(t, a2.SLA.ResponseDue, "the clocks start at the approval")
	requireTime(t, t0.Add(3*hour+8*hour), *a2.SLA.ResponseDue)
	requireTime(t, t0.Add(3*hour+120*hour), *a2.SLA.ResolutionDue)

	ap := h.entries("approve")
	require.Len(t, ap, 2)
	require.Equal(t, workflows.ReqAwaitingApproval, ap[0].From)
	require.Equal(t, workflows.ReqAwaitingApproval, ap[0].To)
	require.Equal(t, "approved", ap[0].Detail["decision"])
	require.Equal(t, "mona", ap[0].Actor)
	require.Equal(t, workflows.ReqAwaitingApproval, ap[1].From)
	require.Equal(t, workflows.ReqLogged, ap[1].To)
	require.Equal(t, "mark", ap[1].Actor)

	ac := h.entries("auto_close")
	require.Len(t, ac, 1)
	requireTime(t, t0.Add(5*hour+72*hour), ac[0].At)
	require.Equal(t, []string{"open", "approve", "approve", "start", "fulfil", "auto_close"}, h.actions())
}

func TestRequestRejection(t *testing.T) {
	h := newHarness(t, t0)
	rej := h.act(hour, workflows.Action{Action: "reject", Actor: mona, Comment: "no budget"})
	h.env.ExecuteWorkflow(workflows.RequestWorkflow, requestInput(requestPolicy(t, "new-laptop")))
	h.requireFinished()
	requireApplied(t, rej, "reject")
	requireTime(t, t0.Add(hour), h.env.Now(), "the workflow ends with the rejection")

	require.Equal(t, []string{"open", "reject"}, h.actions())
	e := h.entries("reject")[0]
	require.Equal(t, workflows.ReqAwaitingApproval, e.From)
	require.Equal(t, workflows.ReqRejected, e.To)
	require.Equal(t, "rejected", e.Detail["decision"])
	require.Equal(t, "no budget", e.Detail["comment"])
	require.Equal(t, []string{"rita"}, recipients(h.projectionOf(e.Seq).Notes))
	r := h.request()
	require.Equal(t, workflows.ReqRejected, r.Status)
	require.NotNil(t, r.ClosedAt)
	requireTime(t, t0.Add(hour), *r.ClosedAt)
	require.Len(t, r.Approvals, 1)
	require.Equal(t, "rejected", r.Approvals[0].Decision)
	require.Nil(t, r.SLA.ResponseDue)
}

func TestRequestSLATimers(t *testing.T) {
	h := newHarness(t, t0)
	pend := h.act(30*minute, workflows.Action{Action: "pend", Actor: alice, Reason: "waiting for the caller"})
	resume := h.act(90*minute, workflows.Action{Action: "resume", Actor: alice})
	resumed := snapshotAt[workflows.Request](h, 90*minute+second)
	h.stopAt(10 * hour)
	h.env.ExecuteWorkflow(workflows.RequestWorkflow, requestInput(requestPolicy(t, "password-reset")))
	h.requireCanceled()
	requireApplied(t, pend, "pend")
	requireApplied(t, resume, "resume")

	r := resumed.get(t)
	require.Equal(t, workflows.ReqLogged, r.Status, "resume returns to the status before pend")
	requireTime(t, t0.Add(2*hour), *r.SLA.ResponseDue, "1h response + 1h paused")
	requireTime(t, t0.Add(5*hour), *r.SLA.ResolutionDue, "4h resolution + 1h paused")

	resp := h.breaches("response")
	require.Len(t, resp, 1)
	requireTime(t, t0.Add(2*hour), resp[0].At)
	require.Equal(t, "mona", resp[0].Detail["escalated_to"])
	warn := h.entries("sla_warning")
	require.Len(t, warn, 1)
	requireTime(t, t0.Add(4*hour), warn[0].At, "75% of 4h plus 1h paused")
	res := h.breaches("resolution")
	require.Len(t, res, 1)
	requireTime(t, t0.Add(5*hour), res[0].At)
	require.Equal(t, []string{"mona", "mona"}, recipients(h.notes("escalation")))
	require.Equal(t, []string{"mona"}, recipients(h.notes("sla_warning")))
	require.Equal(t, []string{"open", "pend", "resume", "sla_breach", "sla_warning", "sla_breach"}, h.actions())
}
