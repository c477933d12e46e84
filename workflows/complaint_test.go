package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kanri-itsm/kanri/workflows"
)

const cmpDay = 24 * time.Hour

// paula owns business relationship management; mona owns the email
// service; mark manages complaint handling; tess is top management.
func cmpRules() workflows.ComplaintRules {
	return workflows.ComplaintRules{
		ActionWithin: 5 * cmpDay, EscalateAfter: 3 * cmpDay, ResponseWait: 10 * cmpDay,
		ServiceOwners: map[string]string{"email": "mona"}, Manager: "mark", TopManagement: []string{"tess"},
		ProcessOwner: "paula",
	}
}

// complaintInput is rita's complaint, which alice logs at the service desk.
func complaintInput() workflows.ComplaintInput {
	return workflows.ComplaintInput{
		ID: "CMP-000001", Num: 1, Title: "Mail outages every Monday",
		Description: "third Monday in a row without mail until noon", Service: "email",
		Caller: "rita", Actor: alice, Source: "api", Rules: cmpRules(),
	}
}

func (h *harness) complaint() workflows.Complaint {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(workflows.QueryRecord)
	require.NoError(h.t, err)
	var r workflows.Complaint
	require.NoError(h.t, v.Get(&r))
	return r
}

func cmpAt(d time.Duration) string { return t0.Add(d).Format(time.RFC3339) }

// The path of 7.1: received, recorded, investigated, actioned, reported,
// accepted by the complainant and closed by staff.
func TestComplaintLifecycle(t *testing.T) {
	h := newHarness(t, t0)
	received := snapshotAt[workflows.Complaint](h, 30*time.Second)
	h.act(1*minute, as(workflows.Action{Action: "record", Impact: "high", Reason: "availability", Notes: "logged by phone"}, alice))
	recorded := snapshotAt[workflows.Complaint](h, 1*minute+30*time.Second)
	h.act(2*minute, as(workflows.Action{Action: "investigate", Assignee: "carl", Group: "third-line"}, alice))
	investigating := snapshotAt[workflows.Complaint](h, 2*minute+30*time.Second)
	h.act(cmpDay, as(workflows.Action{Action: "act", Summary: "moved the Monday backup out of office hours"}, carl))
	actioned := snapshotAt[workflows.Complaint](h, cmpDay+30*time.Second)
	h.act(cmpDay+minute, as(workflows.Action{Action: "report", Summary: "the backup caused it; it now runs at night"}, carl))
	reported := snapshotAt[workflows.Complaint](h, cmpDay+2*minute)
	early := h.act(cmpDay+3*minute, as(workflows.Action{Action: "close"}, tess))
	h.act(2*cmpDay, as(workflows.Action{Action: "accept", Comment: "thanks, fine since"}, rita))
	accepted := snapshotAt[workflows.Complaint](h, 2*cmpDay+30*time.Second)
	closeIt := h.act(2*cmpDay+minute, as(workflows.Action{Action: "close", Comment: "done"}, tess))
	h.env.ExecuteWorkflow(workflows.ComplaintWorkflow, complaintInput())
	h.requireFinished()

	requireRejected(t, early, workflows.ErrConflict, "close before an answer within the wait")
	requireApplied(t, closeIt, "close once accepted")
	require.Equal(t, workflows.CmpReceived, received.get(t).Status)
	require.Equal(t, "recording: service and severity (record)", received.get(t).WaitingFor)
	requireTime(t, t0.Add(5*cmpDay), *received.get(t).ActionDue)
	require.Equal(t, "an investigation (investigate)", recorded.get(t).WaitingFor)
	require.Equal(t, "the action taken by "+cmpAt(5*cmpDay)+" (act)", investigating.get(t).WaitingFor)
	a := actioned.get(t)
	require.Equal(t, "a report to the complainant (report)", a.WaitingFor)
	require.Nil(t, a.ActionDue)
	rp := reported.get(t)
	require.Equal(t, "the answer of rita (accept or dispute), or closure without one at "+cmpAt(11*cmpDay+minute), rp.WaitingFor)
	requireTime(t, t0.Add(11*cmpDay+minute), *rp.ResponseDue)
	require.Equal(t, "closure: the complainant accepted the outcome (close)", accepted.get(t).WaitingFor)

	require.Equal(t, []string{"open", "record", "investigate", "act", "report", "accept", "close"}, h.actions())
	require.Equal(t, []string{"paula"}, recipients(h.notes("complaint_received")))
	require.Equal(t, []string{"paula"}, recipients(h.notesIn("slack", "complaint_received")))
	require.Equal(t, []string{"rita"}, recipients(h.notes("complaint_acknowledged")))
	require.Equal(t, []string{"carl"}, recipients(h.notes("complaint_assigned")))
	require.Equal(t, []string{"rita"}, recipients(h.notes("complaint_reported")))
	require.Equal(t, []string{"rita"}, recipients(h.notesIn("slack", "complaint_reported")))
	require.Equal(t, []string{"carl"}, recipients(h.notes("complaint_accepted")))
	require.Equal(t, []string{"rita"}, recipients(h.notes("complaint_closed")))
	require.Empty(t, h.entries("overdue_escalated"))
	open := h.entries("open")[0]
	require.Equal(t, "rita", open.Detail["complainant"])
	require.Equal(t, cmpAt(5*cmpDay), open.Detail["action_due"])
	rec := h.entries("record")[0]
	require.Equal(t, "high", rec.Detail["severity"])
	require.Equal(t, "availability", rec.Detail["category"])
	require.Equal(t, "email", rec.Detail["service"])
	cl := h.entries("close")[0]
	require.Equal(t, workflows.CmpReported, cl.From)
	require.Equal(t, workflows.CmpClosed, cl.To)
	require.Equal(t, "accepted", cl.Detail["closure"])

	r := h.complaint()
	require.Equal(t, workflows.CmpClosed, r.Status)
	require.Equal(t, "accepted", r.Closure)
	requireTime(t, t0.Add(2*cmpDay+minute), *r.ClosedAt)
	require.Equal(t, "rita", r.Complainant)
	require.Equal(t, "alice", r.CreatedBy)
	require.Equal(t, "high", r.Severity)
	require.Equal(t, "availability", r.Category)
	require.Equal(t, "alice", r.RecordedBy)
	require.Equal(t, "carl", r.Handler)
	require.Equal(t, "third-line", r.Group)
	require.Len(t, r.Actions, 1)
	require.Equal(t, "moved the Monday backup out of office hours", r.Actions[0].Summary)
	require.Len(t, r.Reports, 1)
	require.Equal(t, workflows.CmpAccepted, r.Reports[0].Response)
	requireTime(t, t0.Add(2*cmpDay), *r.Reports[0].RespondedAt)
	require.Nil(t, r.ResponseDue)
	require.Equal(t, 0, r.Escalation)
	require.Equal(t, "", r.WaitingFor)
	last := h.last()
	require.Equal(t, "complaints", last.Case.Kind)
	require.Equal(t, "carl", last.Case.Assignee)
	require.Equal(t, "email", last.Case.Service)
}

// A disputed outcome goes back to the investigation with the reason; the
// clock for actioning it starts again; the second report is accepted.
func TestComplaintDisputeLoop(t *testing.T) {
	h := newHarness(t, t0)
	h.act(1*minute, as(workflows.Action{Action: "record", Impact: "medium"}, alice))
	h.act(2*minute, as(workflows.Action{Action: "investigate"}, alice))
	h.act(3*minute, as(workflows.Action{Action: "act", Summary: "restarted the mail server"}, alice))
	h.act(4*minute, as(workflows.Action{Action: "report", Summary: "a restart fixed it"}, alice))
	h.act(2*cmpDay, as(workflows.Action{Action: "dispute", Reason: "it happened again this Monday"}, rita))
	disputed := snapshotAt[workflows.Complaint](h, 2*cmpDay+30*time.Second)
	again := h.act(2*cmpDay+minute, as(workflows.Action{Action: "accept"}, rita))
	h.act(3*cmpDay, as(workflows.Action{Action: "act", Summary: "moved the backup window"}, alice))
	h.act(3*cmpDay+minute, as(workflows.Action{Action: "report", Summary: "the backup was the cause"}, alice))
	h.act(4*cmpDay, as(workflows.Action{Action: "accept"}, rita))
	h.act(4*cmpDay+minute, as(workflows.Action{Action: "close"}, alice))
	h.env.ExecuteWorkflow(workflows.ComplaintWorkflow, complaintInput())
	h.requireFinished()

	requireRejected(t, again, workflows.ErrConflict, "accept a disputed outcome")
	d := disputed.get(t)
	require.Equal(t, workflows.CmpInvestigating, d.Status)
	require.Equal(t, "the outcome was disputed: further investigation and the action taken by "+cmpAt(7*cmpDay)+" (act)", d.WaitingFor)
	requireTime(t, t0.Add(7*cmpDay), *d.ActionDue, "the clock starts again at the dispute")
	require.Equal(t, 1, d.Disputes)

	require.Equal(t, []string{"open", "record", "investigate", "act", "report", "dispute", "act", "report", "accept", "close"}, h.actions())
	dis := h.entries("dispute")[0]
	require.Equal(t, workflows.CmpReported, dis.From)
	require.Equal(t, workflows.CmpInvestigating, dis.To)
	require.Equal(t, "it happened again this Monday", dis.Detail["reason"])
	require.Equal(t, "rita", dis.Actor)
	require.Equal(t, []string{"alice", "paula"}, recipients(h.notes("complaint_disputed")), "the handler and the process owner")
	require.Empty(t, h.entries("overdue_escalated"))

	r := h.complaint()
	require.Equal(t, workflows.CmpClosed, r.Status)
	require.Equal(t, "accepted", r.Closure)
	require.Len(t, r.Actions, 2)
	require.Len(t, r.Reports, 2)
	require.Equal(t, workflows.CmpDisputed, r.Reports[0].Response)
	require.Equal(t, "it happened again this Monday", r.Reports[0].Reason)
	require.Equal(t, workflows.CmpAccepted, r.Reports[1].Response)
	require.Equal(t, "medium", r.Severity)
	require.Equal(t, "alice", r.Handler, "investigate without an assignee: the actor")
}

// A complaint not actioned ActionWithin after receipt goes to the service
// owner and the manager, and EscalateAfter later to top management; the
// action stops the clock.
func TestComplaintOverdueEscalates(t *testing.T) {
	h := newHarness(t, t0)
	h.act(1*minute, as(workflows.Action{Action: "record", Impact: "high"}, alice))
	h.act(2*minute, as(workflows.Action{Action: "investigate", Assignee: "carl"}, alice))
	before := snapshotAt[workflows.Complaint](h, 4*cmpDay)
	overdue := snapshotAt[workflows.Complaint](h, 6*cmpDay)
	h.act(9*cmpDay, as(workflows.Action{Action: "act", Summary: "late, but done"}, carl))
	h.stopAt(30 * cmpDay)
	h.env.ExecuteWorkflow(workflows.ComplaintWorkflow, complaintInput())
	h.requireCanceled()

	esc := h.entries("overdue_escalated")
	require.Len(t, esc, 2, "the first level, then top management, then no more")
	requireTime(t, t0.Add(5*cmpDay), esc[0].At)
	require.Equal(t, "system", esc[0].Actor)
	require.Equal(t, "manager", esc[0].Detail["level"])
	require.Equal(t, []string{"mona", "mark"}, esc[0].Detail["to"], "the service owner and the manager")
	require.Equal(t, workflows.CmpInvestigating, esc[0].From)
	require.Equal(t, workflows.CmpInvestigating, esc[0].To)
	requireTime(t, t0.Add(8*cmpDay), esc[1].At)
	require.Equal(t, "top_management", esc[1].Detail["level"])
	require.Equal(t, []string{"tess"}, esc[1].Detail["to"])
	require.Equal(t, "72h0m0s", esc[1].Detail["overdue_by"])
	require.Equal(t, []string{"mona", "mark", "tess"}, recipients(h.notes("complaint_overdue")))
	require.Equal(t, []string{"mona", "mark", "tess"}, recipients(h.notesIn("slack", "complaint_overdue")))

	require.False(t, before.get(t).Overdue)
	o := overdue.get(t)
	require.True(t, o.Overdue)
	require.Equal(t, 1, o.Escalation)
	require.Len(t, o.Escalations, 1)
	require.Equal(t, "the action taken by "+cmpAt(5*cmpDay)+" (act)", o.WaitingFor)
	require.Equal(t, true, h.entries("act")[0].Detail["late"])
	r := h.complaint()
	require.Equal(t, workflows.CmpActioned, r.Status)
	require.False(t, r.Overdue)
	require.Nil(t, r.ActionDue)
	require.Equal(t, 2, r.Escalation)
	require.Len(t, r.Escalations, 2)
}

// A manual escalation takes the next level at once; the automatic second
// level follows EscalateAfter after the due date; a third escalation is
// refused. Without a service owner or manager the route goes straight to
// top management.
func TestComplaintEscalationRoutes(t *testing.T) {
	h := newHarness(t, t0)
	h.act(1*minute, as(workflows.Action{Action: "record", Impact: "low"}, alice))
	noReason := h.act(2*minute, as(workflows.Action{Action: "escalate"}, alice))
	byHand := h.act(cmpDay, as(workflows.Action{Action: "escalate", Reason: "the customer's director called"}, alice))
	third := h.act(9*cmpDay, as(workflows.Action{Action: "escalate", Reason: "more"}, alice))
	h.stopAt(20 * cmpDay)
	h.env.ExecuteWorkflow(workflows.ComplaintWorkflow, complaintInput())
	h.requireCanceled()

	requireRejected(t, noReason, workflows.ErrInvalid, "escalate without a reason")
	requireApplied(t, byHand, "escalate by hand")
	requireRejected(t, third, workflows.ErrConflict, "escalate beyond top management")
	man := h.entries("escalate")
	require.Len(t, man, 1)
	require.Equal(t, "manager", man[0].Detail["level"])
	require.Equal(t, []string{"mona", "mark"}, man[0].Detail["to"])
	require.Equal(t, []string{"mona", "mark"}, recipients(h.notes("complaint_escalated")))
	esc := h.entries("overdue_escalated")
	require.Len(t, esc, 1, "the first level heard by hand already")
	requireTime(t, t0.Add(8*cmpDay), esc[0].At)
	require.Equal(t, "top_management", esc[0].Detail["level"])
	r := h.complaint()
	require.Equal(t, 2, r.Escalation)
	require.Len(t, r.Escalations, 2)
	require.Equal(t, "alice", r.Escalations[0].By)
	require.Equal(t, "the customer's director called", r.Escalations[0].Reason)
	require.Equal(t, "system", r.Escalations[1].By)

	in := complaintInput()
	in.Rules.Manager, in.Rules.ServiceOwners = "", nil
	nomgr := newHarness(t, t0)
	nomgr.stopAt(20 * cmpDay)
	nomgr.env.ExecuteWorkflow(workflows.ComplaintWorkflow, in)
	nomgr.requireCanceled()
	esc = nomgr.entries("overdue_escalated")
	require.Len(t, esc, 1)
	requireTime(t, t0.Add(5*cmpDay), esc[0].At)
	require.Equal(t, "top_management", esc[0].Detail["level"])
	require.Equal(t, workflows.CmpReceived, esc[0].From)
	require.Equal(t, []string{"tess"}, recipients(nomgr.notes("complaint_overdue")))
}

// A report the complainant does not answer within ResponseWait closes the
// complaint by itself; with no wait configured, staff may close at once.
func TestComplaintAutoCloseAfterResponseWait(t *testing.T) {
	h := newHarness(t, t0)
	h.act(1*minute, as(workflows.Action{Action: "record", Impact: "low"}, alice))
	h.act(2*minute, as(workflows.Action{Action: "investigate"}, alice))
	h.act(3*minute, as(workflows.Action{Action: "act", Summary: "apologised, credited a month"}, alice))
	h.act(cmpDay, as(workflows.Action{Action: "report", Summary: "a month's credit"}, alice))
	early := h.act(5*cmpDay, as(workflows.Action{Action: "close"}, tess))
	h.env.ExecuteWorkflow(workflows.ComplaintWorkflow, complaintInput())
	h.requireFinished()

	requireRejected(t, early, workflows.ErrConflict, "close while waiting for the answer")
	require.Equal(t, []string{"open", "record", "investigate", "act", "report", "closed_no_response"}, h.actions())
	c := h.entries("closed_no_response")[0]
	requireTime(t, t0.Add(11*cmpDay), c.At)
	require.Equal(t, "system", c.Actor)
	require.Equal(t, workflows.CmpReported, c.From)
	require.Equal(t, workflows.CmpClosed, c.To)
	require.Equal(t, "240h0m0s", c.Detail["waited"])
	require.Equal(t, []string{"rita"}, recipients(h.notes("complaint_closed")))
	r := h.complaint()
	require.Equal(t, workflows.CmpClosed, r.Status)
	require.Equal(t, "no_response", r.Closure)
	requireTime(t, t0.Add(11*cmpDay), *r.ClosedAt)
	require.Equal(t, "", r.Reports[0].Response)

	in := complaintInput()
	in.Rules.ResponseWait = 0
	nw := newHarness(t, t0)
	nw.act(1*minute, as(workflows.Action{Action: "record", Impact: "low"}, alice))
	nw.act(2*minute, as(workflows.Action{Action: "investigate"}, alice))
	nw.act(3*minute, as(workflows.Action{Action: "act", Summary: "s"}, alice))
	nw.act(4*minute, as(workflows.Action{Action: "report", Summary: "s"}, alice))
	waiting := snapshotAt[workflows.Complaint](nw, 4*minute+30*time.Second)
	closeNow := nw.act(5*minute, as(workflows.Action{Action: "close"}, alice))
	nw.env.ExecuteWorkflow(workflows.ComplaintWorkflow, in)
	nw.requireFinished()
	requireApplied(t, closeNow, "close at once without a wait")
	require.Equal(t, "the answer of rita (accept or dispute), or closure (close)", waiting.get(t).WaitingFor)
	require.Nil(t, waiting.get(t).ResponseDue)
	require.Equal(t, "no_response", nw.complaint().Closure)
	require.Empty(t, nw.entries("closed_no_response"))
}

// Who may do what: staff work the complaint; the complainant comments and
// answers the report; others are refused. The actor complains when no
// caller is named.
func TestComplaintRoles(t *testing.T) {
	h := newHarness(t, t0)
	reqRecord := h.act(1*minute, as(workflows.Action{Action: "record", Impact: "high"}, rita))
	badSeverity := h.act(2*minute, as(workflows.Action{Action: "record", Impact: "critical"}, alice))
	h.act(3*minute, as(workflows.Action{Action: "record", Impact: "high", ID: "email"}, tess))
	early := h.act(4*minute, as(workflows.Action{Action: "act", Summary: "s"}, alice))
	h.act(5*minute, as(workflows.Action{Action: "investigate"}, eve))
	noSummary := h.act(6*minute, as(workflows.Action{Action: "act"}, eve))
	complainantComment := h.act(7*minute, as(workflows.Action{Action: "comment", Body: "any news?"}, rita))
	outsiderComment := h.act(8*minute, as(workflows.Action{Action: "comment", Body: "me too"}, rob))
	reqEscalate := h.act(9*minute, as(workflows.Action{Action: "escalate", Reason: "r"}, mark))
	reqLink := h.act(10*minute, as(workflows.Action{Action: "link", Kind: "incidents", ID: "INC-000001", Relation: "about"}, rita))
	h.act(11*minute, as(workflows.Action{Action: "link", Kind: "incidents", ID: "INC-000001", Relation: "about"}, alice))
	h.act(12*minute, as(workflows.Action{Action: "act", Summary: "s"}, eve))
	noReport := h.act(13*minute, as(workflows.Action{Action: "report"}, eve))
	reqReport := h.act(14*minute, as(workflows.Action{Action: "report", Summary: "s"}, rita))
	h.act(15*minute, as(workflows.Action{Action: "report", Summary: "s"}, eve))
	staffAccept := h.act(16*minute, as(workflows.Action{Action: "accept"}, alice))
	otherDispute := h.act(17*minute, as(workflows.Action{Action: "dispute", Reason: "r"}, rob))
	noReason := h.act(18*minute, as(workflows.Action{Action: "dispute"}, rita))
	h.act(19*minute, as(workflows.Action{Action: "accept"}, rita))
	twice := h.act(20*minute, as(workflows.Action{Action: "dispute", Reason: "changed my mind"}, rita))
	reqClose := h.act(21*minute, as(workflows.Action{Action: "close"}, rita))
	unknown := h.act(22*minute, as(workflows.Action{Action: "verify"}, tess))
	h.act(23*minute, as(workflows.Action{Action: "close"}, tess))
	h.env.ExecuteWorkflow(workflows.ComplaintWorkflow, complaintInput())
	h.requireFinished()

	requireRejected(t, reqRecord, workflows.ErrForbidden, "the complainant records")
	requireRejected(t, badSeverity, workflows.ErrInvalid, "a severity outside low, medium, high")
	requireRejected(t, early, workflows.ErrConflict, "act before the investigation")
	requireRejected(t, noSummary, workflows.ErrInvalid, "act without the action taken")
	requireApplied(t, complainantComment, "the complainant comments")
	requireRejected(t, outsiderComment, workflows.ErrForbidden, "a requester who did not complain comments")
	requireRejected(t, reqEscalate, workflows.ErrForbidden, "a requester escalates")
	requireRejected(t, reqLink, workflows.ErrForbidden, "the complainant links")
	requireRejected(t, noReport, workflows.ErrInvalid, "report without a summary")
	requireRejected(t, reqReport, workflows.ErrForbidden, "the complainant reports")
	requireRejected(t, staffAccept, workflows.ErrForbidden, "staff accept for the complainant")
	requireRejected(t, otherDispute, workflows.ErrForbidden, "someone else disputes")
	requireRejected(t, noReason, workflows.ErrInvalid, "dispute without a reason")
	requireRejected(t, twice, workflows.ErrConflict, "dispute after accepting")
	requireRejected(t, reqClose, workflows.ErrForbidden, "the complainant closes")
	requireRejected(t, unknown, workflows.ErrInvalid, "an unknown action")
	r := h.complaint()
	require.Equal(t, workflows.CmpClosed, r.Status)
	require.Equal(t, "tess", r.RecordedBy)
	require.Equal(t, []workflows.Link{{Kind: "incidents", ID: "INC-000001", Relation: "about"}}, r.Links)

	// Without a caller the actor complains; without a service, record
	// needs one.
	in := complaintInput()
	in.Caller, in.Actor, in.Service = "", rob, ""
	own := newHarness(t, t0)
	noService := own.act(1*minute, as(workflows.Action{Action: "record", Impact: "low"}, alice))
	own.act(2*minute, as(workflows.Action{Action: "record", Impact: "low", Reason: "billing", ID: "email"}, alice))
	robComment := own.act(3*minute, as(workflows.Action{Action: "comment", Body: "hello"}, rob))
	ritaComment := own.act(4*minute, as(workflows.Action{Action: "comment", Body: "hello"}, rita))
	own.stopAt(5 * minute)
	own.env.ExecuteWorkflow(workflows.ComplaintWorkflow, in)
	own.requireCanceled()
	requireRejected(t, noService, workflows.ErrInvalid, "record without a service")
	requireApplied(t, robComment, "the complainant who logged it comments")
	requireRejected(t, ritaComment, workflows.ErrForbidden, "someone else comments")
	o := rowRecord[workflows.Complaint](t, own.last())
	require.Equal(t, "rob", o.Complainant)
	require.Equal(t, "email", o.Service)
	require.Equal(t, "billing", o.Category)
	require.Empty(t, own.notes("complaint_acknowledged"), "the complainant logged it and knows")
}
