package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"

	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/workflows"
)

const capaDay = 24 * time.Hour

// paula owns the improvement process; tess is a second process owner.
var capaPaula = workflows.Actor{ID: "paula", Roles: []string{policy.RoleProcessOwner}}

func capaRules() workflows.CorrectiveRules {
	return workflows.CorrectiveRules{
		ReminderBefore: 2 * capaDay, EscalateAfter: 3 * capaDay, EffectivenessAfter: 30 * capaDay,
		Managers: map[string]string{"third-line": "mona"}, Manager: "mark", TopManagement: []string{"tess"},
		ProcessOwner: "paula",
	}
}

// correctiveInput is a nonconformity alice raised from a supplier review.
func correctiveInput() workflows.CorrectiveInput {
	return workflows.CorrectiveInput{
		ID: "CAPA-000001", Num: 1, Title: "Supplier misses its response target",
		Description: "three quarters below the 95% target", Service: "email",
		Source: workflows.CorrectiveSource{Kind: workflows.CapaSourceSupplierReview, ID: "SRV-000004"},
		Actor:  alice, Rules: capaRules(),
	}
}

func (h *harness) corrective() workflows.Corrective {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(workflows.QueryRecord)
	require.NoError(h.t, err)
	var r workflows.Corrective
	require.NoError(h.t, v.Get(&r))
	return r
}

func capaDue(d time.Duration) string { return t0.Add(d).Format(time.RFC3339) }

// The steps of 4.5.5 to an action whose effectiveness check, scheduled
// EffectivenessAfter after its results, passes and closes it.
func capaSteps(h *harness, owner workflows.Actor, due time.Duration) {
	h.act(1*minute, as(workflows.Action{Action: "confirm", Notes: "SLA report confirms it"}, alice))
	h.act(2*minute, as(workflows.Action{Action: "analyse_cause", RootCause: "no on-call rota at the supplier"}, alice))
	h.act(3*minute, as(workflows.Action{Action: "evaluate", NeedsChange: &yes, Reason: "recurring, customer-visible"}, alice))
	h.act(4*minute, as(workflows.Action{Action: "plan", Plan: "contract an on-call rota", Assignee: owner.ID,
		Group: "third-line", Start: capaDue(due)}, alice))
}

// The full path: confirm, cause, evaluate, plan, results, and the
// effectiveness check that falls due 30 days after the results, refused
// before then and effective after, which closes the corrective action.
func TestCorrectiveLifecycle(t *testing.T) {
	h := newHarness(t, t0)
	raised := snapshotAt[workflows.Corrective](h, 30*time.Second)
	h.act(1*minute, as(workflows.Action{Action: "confirm", Notes: "SLA report confirms it"}, alice))
	confirmed := snapshotAt[workflows.Corrective](h, 1*minute+30*time.Second)
	h.act(2*minute, as(workflows.Action{Action: "analyse_cause", RootCause: "no on-call rota at the supplier"}, alice))
	analysed := snapshotAt[workflows.Corrective](h, 2*minute+30*time.Second)
	h.act(3*minute, as(workflows.Action{Action: "evaluate", NeedsChange: &yes, Reason: "recurring, customer-visible"}, alice))
	evaluated := snapshotAt[workflows.Corrective](h, 3*minute+30*time.Second)
	h.act(4*minute, as(workflows.Action{Action: "plan", Plan: "contract an on-call rota", Assignee: "carl",
		Group: "third-line", Start: capaDue(10 * capaDay)}, alice))
	planned := snapshotAt[workflows.Corrective](h, 5*minute)
	h.act(5*capaDay, as(workflows.Action{Action: "record_results", Results: "rota in the contract from 1 April"}, carl))
	early := h.act(6*capaDay, as(workflows.Action{Action: "verify", Success: &yes, Notes: "too soon"}, capaPaula))
	implemented := snapshotAt[workflows.Corrective](h, 6*capaDay)
	verifying := snapshotAt[workflows.Corrective](h, 35*capaDay+minute)
	verify := h.act(36*capaDay, as(workflows.Action{Action: "verify", Success: &yes, Notes: "target met for a month"}, capaPaula))
	h.env.ExecuteWorkflow(workflows.CorrectiveWorkflow, correctiveInput())
	h.requireFinished()

	requireRejected(t, early, workflows.ErrConflict, "verify before the check is due")
	requireApplied(t, verify, "verify once due")
	require.Equal(t, "confirmation of the nonconformity (confirm)", raised.get(t).WaitingFor)
	require.Equal(t, "cause analysis (analyse_cause)", confirmed.get(t).WaitingFor)
	require.Equal(t, "evaluation of the need for action (evaluate)", analysed.get(t).WaitingFor)
	require.Equal(t, "an action with an owner and a due date (plan)", evaluated.get(t).WaitingFor)
	p := planned.get(t)
	require.Equal(t, workflows.CapaPlanned, p.Status)
	require.Equal(t, "results from carl by "+capaDue(10*capaDay)+" (record_results)", p.WaitingFor)
	requireTime(t, t0.Add(10*capaDay), *p.Due)
	require.False(t, p.Overdue)
	require.Equal(t, "the effectiveness check, due at "+capaDue(35*capaDay), implemented.get(t).WaitingFor)
	require.Equal(t, workflows.CapaVerifying, verifying.get(t).Status)
	require.Equal(t, "the effectiveness check by a process owner (verify)", verifying.get(t).WaitingFor)

	require.Equal(t, []string{"open", "confirm", "analyse_cause", "evaluate", "plan", "record_results", "effectiveness_check_due", "verify"}, h.actions())
	due := h.entries("effectiveness_check_due")
	require.Len(t, due, 1)
	requireTime(t, t0.Add(35*capaDay), due[0].At)
	require.Equal(t, "system", due[0].Actor)
	require.Equal(t, workflows.CapaImplemented, due[0].From)
	require.Equal(t, workflows.CapaVerifying, due[0].To)
	require.Equal(t, []string{"paula", "alice"}, recipients(h.notes("effectiveness_check_due")), "the process owner and the raiser")
	require.Equal(t, []string{"paula"}, recipients(h.notes("nonconformity_raised")))
	require.Equal(t, []string{"carl"}, recipients(h.notes("corrective_action_assigned")))
	require.Equal(t, []string{"carl"}, recipients(h.notesIn("slack", "corrective_action_assigned")))
	require.Empty(t, h.entries("due_reminder"), "results came before the reminder")
	require.Empty(t, h.entries("overdue_escalated"))

	r := h.corrective()
	require.Equal(t, workflows.CapaClosed, r.Status)
	require.Equal(t, "effective", r.Closure)
	requireTime(t, t0.Add(36*capaDay), *r.ClosedAt)
	require.Equal(t, "carl", r.Owner)
	require.Equal(t, "third-line", r.Group)
	require.Equal(t, "no on-call rota at the supplier", r.RootCause)
	require.Equal(t, "alice", r.Confirmation.By)
	require.Len(t, r.Plans, 1)
	pl := r.Plans[0]
	require.Equal(t, "contract an on-call rota", pl.Action)
	require.Equal(t, "carl", pl.ResultsBy)
	requireTime(t, t0.Add(5*capaDay), *pl.ImplementedAt)
	requireTime(t, t0.Add(35*capaDay), *pl.CheckDue)
	require.Equal(t, &workflows.EffectivenessCheck{Effective: true, Notes: "target met for a month", By: "paula", At: t0.Add(36 * capaDay)}, pl.Check)
	require.Nil(t, r.Due)
	require.Equal(t, "", r.WaitingFor)
	require.Contains(t, r.Links, workflows.Link{Kind: "supplier-reviews", ID: "SRV-000004", Relation: "raised_from"})
	open := h.entries("open")[0]
	require.Equal(t, "supplier_review", open.Detail["source"])
	require.Equal(t, "SRV-000004", open.Detail["source_id"])
	last := h.last()
	require.Equal(t, "corrective-actions", last.Case.Kind)
	require.Equal(t, "carl", last.Case.Assignee)
	require.Equal(t, "email", last.Case.Service)
}

// An ineffective check sends the corrective action back to cause analysis;
// a revised cause, a new evaluation and a new action follow, whose own
// check passes and closes it.
func TestCorrectiveIneffectiveGoesBackToCause(t *testing.T) {
	h := newHarness(t, t0)
	capaSteps(h, carl, 10*capaDay)
	h.act(2*capaDay, as(workflows.Action{Action: "record_results", Results: "rota agreed by mail"}, carl))
	h.act(33*capaDay, as(workflows.Action{Action: "verify", Success: &no, Notes: "two more misses at night"}, capaPaula))
	back := snapshotAt[workflows.Corrective](h, 33*capaDay+30*time.Second)
	noPlan := h.act(33*capaDay+minute, as(workflows.Action{Action: "plan", Plan: "x", Start: capaDue(40 * capaDay)}, alice))
	h.act(33*capaDay+2*minute, as(workflows.Action{Action: "analyse_cause", RootCause: "the rota has no night cover"}, alice))
	revised := snapshotAt[workflows.Corrective](h, 33*capaDay+2*minute+30*time.Second)
	h.act(33*capaDay+3*minute, as(workflows.Action{Action: "evaluate", NeedsChange: &yes, Reason: "still recurring"}, alice))
	h.act(33*capaDay+4*minute, as(workflows.Action{Action: "plan", Plan: "night cover in the contract", Start: capaDue(50 * capaDay)}, alice))
	h.act(40*capaDay, as(workflows.Action{Action: "record_results", Results: "contract amended"}, carl))
	h.act(71*capaDay, as(workflows.Action{Action: "verify", Success: &yes, Notes: "no misses since"}, tess))
	h.env.ExecuteWorkflow(workflows.CorrectiveWorkflow, correctiveInput())
	h.requireFinished()

	requireRejected(t, noPlan, workflows.ErrConflict, "plan again without a new evaluation")
	b := back.get(t)
	require.Equal(t, workflows.CapaCauseAnalysed, b.Status)
	require.Equal(t, "the action was ineffective: cause analysis again (analyse_cause) and evaluation of the need for action (evaluate)", b.WaitingFor)
	require.Equal(t, "evaluation of the need for action (evaluate)", revised.get(t).WaitingFor)
	require.Equal(t, []string{"open", "confirm", "analyse_cause", "evaluate", "plan", "record_results", "effectiveness_check_due", "verify",
		"analyse_cause", "evaluate", "plan", "record_results", "effectiveness_check_due", "verify"}, h.actions())
	verifies := h.entries("verify")
	require.Equal(t, workflows.CapaCauseAnalysed, verifies[0].To)
	require.Equal(t, false, verifies[0].Detail["effective"])
	require.Equal(t, workflows.CapaClosed, verifies[1].To)
	require.Equal(t, true, h.entries("analyse_cause")[1].Detail["revised"])
	checks := h.entries("effectiveness_check_due")
	require.Len(t, checks, 2)
	requireTime(t, t0.Add(32*capaDay), checks[0].At)
	requireTime(t, t0.Add(70*capaDay), checks[1].At)
	require.Equal(t, []string{"carl"}, recipients(h.notes("corrective_action_ineffective")), "paula checked it herself")

	r := h.corrective()
	require.Equal(t, workflows.CapaClosed, r.Status)
	require.Equal(t, "effective", r.Closure)
	require.Equal(t, "the rota has no night cover", r.RootCause)
	require.Len(t, r.Analyses, 2)
	require.Len(t, r.Evaluations, 2)
	require.Len(t, r.Plans, 2)
	require.False(t, r.Plans[0].Check.Effective)
	require.True(t, r.Plans[1].Check.Effective)
	require.Equal(t, "carl", r.Plans[1].Owner, "the owner stays when a plan names none")
	require.Equal(t, "tess", r.Plans[1].Check.By)
}

// An action without results is reminded to its owner ReminderBefore its
// due date, escalated to the manager of the owner's group at the due date
// and to top management EscalateAfter later; results stop the clock.
func TestCorrectiveOverdueEscalates(t *testing.T) {
	h := newHarness(t, t0)
	capaSteps(h, carl, 10*capaDay)
	reminded := snapshotAt[workflows.Corrective](h, 9*capaDay)
	overdue := snapshotAt[workflows.Corrective](h, 11*capaDay)
	h.act(14*capaDay, as(workflows.Action{Action: "record_results", Results: "rota in place, late"}, carl))
	h.stopAt(40 * capaDay)
	h.env.ExecuteWorkflow(workflows.CorrectiveWorkflow, correctiveInput())
	h.requireCanceled()

	rem := h.entries("due_reminder")
	require.Len(t, rem, 1)
	requireTime(t, t0.Add(8*capaDay), rem[0].At)
	require.Equal(t, "system", rem[0].Actor)
	require.Equal(t, []string{"carl"}, recipients(h.notes("corrective_action_reminder")))
	require.Equal(t, []string{"carl"}, recipients(h.notesIn("slack", "corrective_action_reminder")))

	esc := h.entries("overdue_escalated")
	require.Len(t, esc, 2, "manager, then top management, then no more")
	requireTime(t, t0.Add(10*capaDay), esc[0].At)
	require.Equal(t, "manager", esc[0].Detail["level"])
	require.Equal(t, []string{"mona"}, esc[0].Detail["to"])
	requireTime(t, t0.Add(13*capaDay), esc[1].At)
	require.Equal(t, "top_management", esc[1].Detail["level"])
	require.Equal(t, "72h0m0s", esc[1].Detail["overdue_by"])
	require.Equal(t, "system", esc[1].Actor)
	require.Equal(t, []string{"mona", "tess"}, recipients(h.notes("corrective_action_overdue")))

	require.Equal(t, "results from carl by "+capaDue(10*capaDay)+" (record_results)", reminded.get(t).WaitingFor)
	require.NotNil(t, reminded.get(t).Plans[0].RemindedAt)
	o := overdue.get(t)
	require.True(t, o.Overdue)
	require.Equal(t, 1, o.Plans[0].Escalation)
	require.Equal(t, "results from carl, overdue since "+capaDue(10*capaDay)+" (record_results)", o.WaitingFor)

	require.Equal(t, true, h.entries("record_results")[0].Detail["late"])
	r := h.corrective()
	require.Equal(t, workflows.CapaImplemented, r.Status)
	require.False(t, r.Overdue)
	require.Equal(t, 2, r.Plans[0].Escalation)
	requireTime(t, t0.Add(44*capaDay), *r.Plans[0].CheckDue)
}

// A plan whose group has no manager escalates to the fallback manager; a
// re-plan with a new due date starts the reminder and escalation again; a
// case with no manager at all goes to top management once; a plan made
// inside the reminder period gets no reminder.
func TestCorrectiveEscalationRoutes(t *testing.T) {
	h := newHarness(t, t0)
	h.act(1*minute, as(workflows.Action{Action: "confirm"}, alice))
	h.act(2*minute, as(workflows.Action{Action: "analyse_cause", RootCause: "c"}, alice))
	h.act(3*minute, as(workflows.Action{Action: "evaluate", NeedsChange: &yes, Reason: "r"}, alice))
	h.act(4*minute, as(workflows.Action{Action: "plan", Plan: "p", Assignee: "bob", Start: capaDue(5 * capaDay)}, alice))
	replan := h.act(6*capaDay, as(workflows.Action{Action: "plan", Plan: "p", Assignee: "carl", Start: capaDue(12 * capaDay)}, capaPaula))
	h.stopAt(20 * capaDay)
	h.env.ExecuteWorkflow(workflows.CorrectiveWorkflow, correctiveInput())
	h.requireCanceled()
	requireApplied(t, replan, "re-plan an overdue action")
	var at []time.Time
	for _, e := range h.entries("due_reminder") {
		at = append(at, e.At)
	}
	require.Equal(t, []time.Time{t0.Add(3 * capaDay), t0.Add(10 * capaDay)}, at)
	require.Equal(t, []string{"bob", "carl"}, recipients(h.notes("corrective_action_reminder")))
	esc := h.entries("overdue_escalated")
	require.Len(t, esc, 3)
	requireTime(t, t0.Add(5*capaDay), esc[0].At)
	require.Equal(t, []string{"mark"}, esc[0].Detail["to"], "no group: the fallback manager")
	requireTime(t, t0.Add(12*capaDay), esc[1].At, "the re-plan starts the escalation again")
	require.Equal(t, "manager", esc[1].Detail["level"])
	requireTime(t, t0.Add(15*capaDay), esc[2].At)
	require.Equal(t, "top_management", esc[2].Detail["level"])
	rp := h.entries("plan")[1]
	require.Equal(t, capaDue(5*capaDay), rp.Detail["previous_due"])
	require.Equal(t, "bob", rp.Detail["previous_owner"])
	r := h.corrective()
	require.Len(t, r.Plans, 1, "a re-plan replaces the open action")
	require.Equal(t, "carl", r.Owner)

	in := correctiveInput()
	in.Rules.Manager, in.Rules.Managers = "", nil
	nomgr := newHarness(t, t0)
	nomgr.act(1*minute, as(workflows.Action{Action: "confirm"}, alice))
	nomgr.act(2*minute, as(workflows.Action{Action: "analyse_cause", RootCause: "c"}, alice))
	nomgr.act(3*minute, as(workflows.Action{Action: "evaluate", NeedsChange: &yes, Reason: "r"}, alice))
	nomgr.act(4*minute, as(workflows.Action{Action: "plan", Plan: "p", Assignee: "bob", Start: capaDue(1 * capaDay)}, alice))
	nomgr.stopAt(20 * capaDay)
	nomgr.env.ExecuteWorkflow(workflows.CorrectiveWorkflow, in)
	nomgr.requireCanceled()
	require.Empty(t, nomgr.entries("due_reminder"), "planned inside the reminder period")
	esc = nomgr.entries("overdue_escalated")
	require.Len(t, esc, 1)
	requireTime(t, t0.Add(capaDay), esc[0].At)
	require.Equal(t, "top_management", esc[0].Detail["level"])
	require.Equal(t, []string{"tess"}, recipients(nomgr.notes("corrective_action_overdue")))
}

// A decision that no action is needed needs a reason and the approval of a
// process owner other than the proposer; approved, it closes the case.
func TestCorrectiveNoAction(t *testing.T) {
	h := newHarness(t, t0)
	h.act(1*minute, as(workflows.Action{Action: "confirm"}, alice))
	noReason := h.act(2*minute, as(workflows.Action{Action: "no_action"}, tess))
	h.act(3*minute, as(workflows.Action{Action: "no_action", Reason: "a one-off caused by a regional power cut"}, tess))
	proposed := snapshotAt[workflows.Corrective](h, 3*minute+30*time.Second)
	own := h.act(4*minute, as(workflows.Action{Action: "approve_no_action"}, tess))
	agent := h.act(5*minute, as(workflows.Action{Action: "approve_no_action"}, alice))
	requester := h.act(6*minute, as(workflows.Action{Action: "approve_no_action"}, rita))
	plan := h.act(7*minute, as(workflows.Action{Action: "plan", Plan: "p", Assignee: "carl", Start: capaDue(capaDay)}, alice))
	approve := h.act(8*minute, as(workflows.Action{Action: "approve_no_action", Comment: "agreed"}, capaPaula))
	h.env.ExecuteWorkflow(workflows.CorrectiveWorkflow, correctiveInput())
	h.requireFinished()

	requireRejected(t, noReason, workflows.ErrInvalid, "no_action without a reason")
	requireRejected(t, own, workflows.ErrForbidden, "the proposer approves")
	requireRejected(t, agent, workflows.ErrForbidden, "an agent approves")
	requireRejected(t, requester, workflows.ErrForbidden, "a requester approves")
	requireRejected(t, plan, workflows.ErrConflict, "plan while no action is proposed")
	requireApplied(t, approve, "a second process owner approves")
	p := proposed.get(t)
	require.Equal(t, workflows.CapaNoActionProposed, p.Status)
	require.Equal(t, "approval that no action is needed by a process owner other than tess (approve_no_action)", p.WaitingFor)
	require.Equal(t, []string{"paula"}, recipients(h.notes("no_action_proposed")))
	require.Equal(t, []string{"paula"}, recipients(h.notesIn("slack", "no_action_proposed")))
	require.Equal(t, []string{"open", "confirm", "no_action", "approve_no_action"}, h.actions())
	ap := h.entries("approve_no_action")[0]
	require.Equal(t, "paula", ap.Actor)
	require.Equal(t, "tess", ap.Detail["proposed_by"])
	require.Equal(t, "a one-off caused by a regional power cut", ap.Detail["reason"])
	require.Equal(t, workflows.CapaClosed, ap.To)
	require.Equal(t, []string{"tess", "alice"}, recipients(h.notes("no_action_approved")))
	r := h.corrective()
	require.Equal(t, "no_action", r.Closure)
	require.Len(t, r.NoAction, 1)
	na := r.NoAction[0]
	require.Equal(t, "approved", na.Decision)
	require.Equal(t, "paula", na.DecidedBy)
	require.Equal(t, workflows.CapaConfirmed, na.From)
	require.Empty(t, r.Plans)
}

// An evaluation that no action is needed is a proposal too; rejected, the
// corrective action goes on to a plan. Once an action is planned, no action
// can no longer be proposed.
func TestCorrectiveEvaluateNoNeedRejected(t *testing.T) {
	h := newHarness(t, t0)
	h.act(1*minute, as(workflows.Action{Action: "confirm"}, alice))
	h.act(2*minute, as(workflows.Action{Action: "analyse_cause", RootCause: "c"}, alice))
	noNeed := h.act(3*minute, as(workflows.Action{Action: "evaluate", Reason: "minor"}, alice))
	h.act(4*minute, as(workflows.Action{Action: "evaluate", NeedsChange: &no, Reason: "minor and isolated"}, alice))
	own := h.act(5*minute, as(workflows.Action{Action: "reject_no_action"}, alice))
	h.act(6*minute, as(workflows.Action{Action: "reject_no_action", Comment: "it recurs at other suppliers"}, capaPaula))
	rejected := snapshotAt[workflows.Corrective](h, 6*minute+30*time.Second)
	h.act(7*minute, as(workflows.Action{Action: "plan", Plan: "p", Assignee: "carl", Start: capaDue(capaDay)}, alice))
	late := h.act(8*minute, as(workflows.Action{Action: "no_action", Reason: "changed our minds"}, alice))
	h.stopAt(10 * minute)
	h.env.ExecuteWorkflow(workflows.CorrectiveWorkflow, correctiveInput())
	h.requireCanceled()

	requireRejected(t, noNeed, workflows.ErrInvalid, "evaluate without needs_change")
	requireRejected(t, own, workflows.ErrForbidden, "an agent rejects")
	requireRejected(t, late, workflows.ErrConflict, "no_action once planned")
	ev := h.entries("evaluate")[0]
	require.Equal(t, workflows.CapaCauseAnalysed, ev.From)
	require.Equal(t, workflows.CapaNoActionProposed, ev.To)
	require.Equal(t, false, ev.Detail["need"])
	rj := rejected.get(t)
	require.Equal(t, workflows.CapaEvaluated, rj.Status, "rejected: action is needed")
	require.Equal(t, "rejected", rj.NoAction[0].Decision)
	require.Equal(t, "it recurs at other suppliers", rj.NoAction[0].Comment)
	require.Equal(t, []string{"alice"}, recipients(h.notes("no_action_rejected")))
	require.Equal(t, workflows.CapaPlanned, h.corrective().Status)
}

// Who may do what: agents and process owners work the case, requesters do
// not; the owner, whatever their role, records the results and nobody else
// but a process owner may; only a process owner checks effectiveness, and
// never of an action they owned or recorded.
func TestCorrectiveRoles(t *testing.T) {
	in := correctiveInput()
	in.Rules.EffectivenessAfter = 0
	h := newHarness(t, t0)
	reqConfirm := h.act(1*minute, as(workflows.Action{Action: "confirm"}, rita))
	h.act(2*minute, as(workflows.Action{Action: "confirm"}, alice))
	reqCause := h.act(3*minute, as(workflows.Action{Action: "analyse_cause", RootCause: "c"}, mark))
	noCause := h.act(4*minute, as(workflows.Action{Action: "analyse_cause"}, tess))
	h.act(5*minute, as(workflows.Action{Action: "analyse_cause", RootCause: "c"}, tess))
	h.act(6*minute, as(workflows.Action{Action: "evaluate", NeedsChange: &yes, Reason: "r"}, alice))
	noOwner := h.act(7*minute, as(workflows.Action{Action: "plan", Plan: "p", Start: capaDue(capaDay)}, alice))
	past := h.act(8*minute, as(workflows.Action{Action: "plan", Plan: "p", Assignee: "rob", Start: capaDue(minute)}, alice))
	badDue := h.act(9*minute, as(workflows.Action{Action: "plan", Plan: "p", Assignee: "rob", Start: "next week"}, alice))
	noWhat := h.act(10*minute, as(workflows.Action{Action: "plan", Assignee: "rob", Start: capaDue(capaDay)}, alice))
	h.act(11*minute, as(workflows.Action{Action: "plan", Plan: "p", Assignee: "rob", Start: capaDue(capaDay)}, alice))
	other := h.act(12*minute, as(workflows.Action{Action: "record_results", Results: "done"}, eve))
	outsider := h.act(13*minute, as(workflows.Action{Action: "comment", Body: "any news?"}, rita))
	ownerComment := h.act(14*minute, as(workflows.Action{Action: "comment", Body: "on it"}, rob))
	noResults := h.act(15*minute, as(workflows.Action{Action: "record_results"}, rob))
	h.act(16*minute, as(workflows.Action{Action: "record_results", Results: "done"}, rob))
	agentVerify := h.act(17*minute, as(workflows.Action{Action: "verify", Success: &yes, Notes: "n"}, alice))
	ownerVerify := h.act(18*minute, as(workflows.Action{Action: "verify", Success: &yes, Notes: "n"}, rob))
	noNotes := h.act(19*minute, as(workflows.Action{Action: "verify", Success: &yes}, tess))
	unknown := h.act(20*minute, as(workflows.Action{Action: "close"}, tess))
	h.act(21*minute, as(workflows.Action{Action: "verify", Success: &yes, Notes: "checked"}, tess))
	h.env.ExecuteWorkflow(workflows.CorrectiveWorkflow, in)
	h.requireFinished()

	requireRejected(t, reqConfirm, workflows.ErrForbidden, "a requester confirms")
	requireRejected(t, reqCause, workflows.ErrForbidden, "a requester analyses the cause")
	requireRejected(t, noCause, workflows.ErrInvalid, "analyse_cause without a root cause")
	requireRejected(t, noOwner, workflows.ErrInvalid, "plan without an owner")
	requireRejected(t, past, workflows.ErrInvalid, "a due date that has passed")
	requireRejected(t, badDue, workflows.ErrInvalid, "a due date that is not RFC 3339")
	requireRejected(t, noWhat, workflows.ErrInvalid, "plan without the action")
	requireRejected(t, other, workflows.ErrForbidden, "an agent who is not the owner records results")
	requireRejected(t, outsider, workflows.ErrForbidden, "a requester comments")
	requireApplied(t, ownerComment, "the owner comments")
	requireRejected(t, noResults, workflows.ErrInvalid, "record_results without results")
	requireRejected(t, agentVerify, workflows.ErrForbidden, "an agent verifies")
	requireRejected(t, ownerVerify, workflows.ErrForbidden, "a requester owner verifies")
	requireRejected(t, noNotes, workflows.ErrInvalid, "verify without notes")
	requireRejected(t, unknown, workflows.ErrInvalid, "an unknown action")
	// EffectivenessAfter zero: the check falls due with the results.
	due := h.entries("effectiveness_check_due")
	require.Len(t, due, 1)
	requireTime(t, t0.Add(16*minute), due[0].At)
	require.Equal(t, workflows.CapaClosed, h.corrective().Status)

	// A process owner who owned the action may not check it.
	po := newHarness(t, t0)
	capaSteps(po, capaPaula, 10*capaDay)
	po.act(capaDay, as(workflows.Action{Action: "record_results", Results: "done"}, capaPaula))
	self := po.act(32*capaDay, as(workflows.Action{Action: "verify", Success: &yes, Notes: "fine"}, capaPaula))
	po.act(32*capaDay+minute, as(workflows.Action{Action: "verify", Success: &yes, Notes: "fine"}, tess))
	po.env.ExecuteWorkflow(workflows.CorrectiveWorkflow, correctiveInput())
	po.requireFinished()
	requireRejected(t, self, workflows.ErrForbidden, "the owner checks their own action")
	require.Equal(t, "tess", po.corrective().Plans[0].Check.By)
}

// The source is one of a fixed list of kinds; all but a manual one name the
// case they came from, which the corrective action links.
func TestCorrectiveSource(t *testing.T) {
	require.Equal(t, []string{"manual", "supplier_review", "audit_finding", "major_incident_review", "complaint", "sla_breach_trend"},
		workflows.CorrectiveSourceKinds())
	require.NoError(t, workflows.CheckCorrectiveSource(workflows.CorrectiveSource{Kind: "manual"}))
	require.Error(t, workflows.CheckCorrectiveSource(workflows.CorrectiveSource{Kind: "gossip", ID: "x"}))
	require.Error(t, workflows.CheckCorrectiveSource(workflows.CorrectiveSource{Kind: "audit_finding"}))

	for kind, link := range map[string]*workflows.Link{
		"manual":                nil,
		"audit_finding":         {Kind: "audits", ID: "SRC-1", Relation: "raised_from"},
		"major_incident_review": {Kind: "incidents", ID: "SRC-1", Relation: "raised_from"},
		"complaint":             {Kind: "complaints", ID: "SRC-1", Relation: "raised_from"},
		"sla_breach_trend":      {Kind: "services", ID: "SRC-1", Relation: "raised_from"},
	} {
		t.Run(kind, func(t *testing.T) {
			in := correctiveInput()
			in.Source = workflows.CorrectiveSource{Kind: kind, ID: "SRC-1"}
			h := newHarness(t, t0)
			h.stopAt(minute)
			h.env.ExecuteWorkflow(workflows.CorrectiveWorkflow, in)
			h.requireCanceled()
			r := rowRecord[workflows.Corrective](t, h.last())
			if link == nil {
				require.Empty(t, r.Links)
			} else {
				require.Equal(t, []workflows.Link{*link}, r.Links)
			}
		})
	}

	in := correctiveInput()
	in.Source = workflows.CorrectiveSource{Kind: "rumour"}
	h := newHarness(t, t0)
	h.env.ExecuteWorkflow(workflows.CorrectiveWorkflow, in)
	require.True(t, h.env.IsWorkflowCompleted())
	require.ErrorContains(t, h.env.GetWorkflowError(), "source kind")
	require.Empty(t, h.all(), "a refused source opens nothing")
}

// capaParent stands for the case that raises a corrective action: it starts
// the action as its child, waits for it to end, and returns what the
// action told it.
func capaParent(ctx workflow.Context, in workflows.CorrectiveInput) ([]workflows.CaseState, error) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: in.ID})
	if err := workflow.ExecuteChildWorkflow(cctx, workflows.CorrectiveWorkflow, in).Get(ctx, nil); err != nil {
		return nil, err
	}
	var told []workflows.CaseState
	outcomes := workflow.GetSignalChannel(ctx, workflows.SignalChildOutcome)
	for {
		var st workflows.CaseState
		if !outcomes.ReceiveAsync(&st) {
			return told, nil
		}
		told = append(told, st)
	}
}

// Only an audit waits for the corrective actions it raised, so only an
// audit is told when one closes. A supplier review closes when it is
// recorded; telling it failed against its closed run.
func TestCorrectiveTellsOnlyAnAuditThatItClosed(t *testing.T) {
	for _, tc := range []struct {
		source workflows.CorrectiveSource
		told   bool
	}{
		{workflows.CorrectiveSource{Kind: workflows.CapaSourceAuditFinding, ID: "AUD-000001"}, true},
		{workflows.CorrectiveSource{Kind: workflows.CapaSourceSupplierReview, ID: "SRV-000004"}, false},
	} {
		t.Run(tc.source.Kind, func(t *testing.T) {
			h := newHarness(t, t0)
			h.env.RegisterWorkflow(workflows.CorrectiveWorkflow)
			in := correctiveInput()
			in.Source = tc.source
			for i, a := range []workflows.Action{
				as(workflows.Action{Action: "confirm"}, alice),
				as(workflows.Action{Action: "no_action", Reason: "a one-off caused by a regional power cut"}, tess),
				as(workflows.Action{Action: "approve_no_action"}, capaPaula),
			} {
				h.at(time.Duration(i+1)*minute, func() {
					require.NoError(t, h.env.SignalWorkflowByID(in.ID, workflows.SignalAct, a))
				})
			}
			h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: tc.source.ID}) // the parent is the source
			h.env.ExecuteWorkflow(capaParent, in)
			h.requireFinished()
			var told []workflows.CaseState
			require.NoError(t, h.env.GetWorkflowResult(&told))
			if !tc.told {
				require.Empty(t, told, "a %s was told that its corrective action closed", tc.source.Kind)
				return
			}
			require.Len(t, told, 1)
			require.Equal(t, in.ID, told[0].ID)
			require.Equal(t, workflows.CapaClosed, told[0].Status)
		})
	}
}
