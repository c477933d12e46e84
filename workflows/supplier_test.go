package workflows_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/workflows"
)

const supDay = 24 * time.Hour

var (
	// sam manages the contract; mona is his manager; paula owns the
	// improvement process; tess is top management.
	sam   = workflows.Actor{ID: "sam", Roles: []string{policy.RoleAgent}, Groups: []string{"vendors"}}
	ivan  = workflows.Actor{ID: "ivan", Roles: []string{policy.RoleAgent}}
	paula = workflows.Actor{ID: "paula", Roles: []string{policy.RoleProcessOwner}}
)

func supplierInput() workflows.SupplierInput {
	return workflows.SupplierInput{
		ID: "SUP-000001", Num: 1, Name: "Acme Hosting", Description: "hosting of the mail servers",
		Contract: workflows.SupplierContract{
			Scope: "hosting and operation of mail-1", Services: []string{"email"}, CIs: []string{"mail-1"},
			Targets:         []workflows.SupplierTarget{{Service: "email", Priority: "P1", Response: "10m", Resolution: "2h"}},
			ContractManager: "sam", ReviewInterval: "90d", End: t0.Add(740 * supDay).Format(time.RFC3339),
		},
		Actor: paula,
		Rules: workflows.SupplierRules{
			ReviewEvery: 90 * supDay, RecordWithin: 14 * supDay, EscalateAfter: 7 * supDay,
			Escalate: "mona", SupplierManager: "paula", TopManagement: []string{"tess"},
			Corrective: workflows.CorrectiveRules{EffectivenessAfter: 30 * supDay, ProcessOwner: "paula", TopManagement: []string{"tess"}},
		},
	}
}

// superviseSupplier runs the supplier as a child, as the test environment
// runs a child's continue-as-new as the next run under the same id.
func superviseSupplier(ctx workflow.Context, in workflows.SupplierInput) error {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: in.ID})
	return workflow.ExecuteChildWorkflow(cctx, workflows.SupplierWorkflow, in).Get(ctx, nil)
}

// ids mocks NextID: numbers per prefix from 1.
func (h *harness) ids() {
	next := map[string]int64{}
	var a *activities.Activities
	h.env.OnActivity(a.NextID, mock.Anything, mock.Anything, mock.Anything).Return(
		func(_ context.Context, _, prefix string) (activities.NewID, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			next[prefix]++
			return activities.NewID{ID: fmt.Sprintf("%s-%06d", prefix, next[prefix]), Num: next[prefix]}, nil
		})
}

// figures mocks the figures: three incidents on email, one breached.
func (h *harness) figures() {
	var a *activities.Activities
	h.env.OnActivity(a.GatherSupplierFigures, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.FiguresInput) (activities.SupplierFigures, error) {
			return activities.SupplierFigures{Services: in.Services, Incidents: 3, Breached: 1,
				Targets: []activities.TargetFigure{{ServiceTarget: in.Targets[0], Incidents: 3, Met: 2, Achievement: 66.6}}}, nil
		})
}

// actOn sends an action to another workflow of the test (a child) at
// start+d, by update.
func (h *harness) actOn(d time.Duration, id string, a workflows.Action) *outcome {
	h.updates++
	uid := fmt.Sprintf("update-%d", h.updates)
	o := &outcome{}
	h.at(d, func() {
		o.sent = true
		err := h.env.UpdateWorkflowByID(id, workflows.UpdateAct, uid, &testsuite.TestUpdateCallback{
			OnAccept:   func() { o.accepted = true },
			OnReject:   func(err error) { o.rejected, o.done = err, true },
			OnComplete: func(_ any, err error) { o.err, o.done = err, true },
		}, a)
		if err != nil {
			o.err, o.done = err, true
		}
	})
	return o
}

// rows returns the projections of one case in the order of their numbers:
// two transitions in flight at once (a signal and a timer) may be written
// in either order.
func (h *harness) rows(id string) []activities.ProjectInput {
	var out []activities.ProjectInput
	for _, p := range h.all() {
		if p.Case.ID == id {
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, func(a, b activities.ProjectInput) int { return cmp.Compare(a.Entry.Seq, b.Entry.Seq) })
	return out
}

// caseActions lists one case's history actions in order.
func (h *harness) caseActions(id string) []string {
	var out []string
	for _, p := range h.rows(id) {
		out = append(out, p.Entry.Action)
	}
	return out
}

// Two years of quarterly reviews in one test: the supplier opens a review
// every 90 days (eight of them, each as the last act of a run that then
// continues as new), plus one on demand; the second review finds a
// nonconformity whose corrective action fails its first effectiveness
// check and passes its second; the fifth is recorded late after escalating
// to the contract manager's manager and to top management; a dispute
// signalled at the very moment a run continues as new is kept; and the
// contract's end stops the cycle.
func TestSupplierTwoYearsOfQuarterlyReviews(t *testing.T) {
	h := newHarness(t, t0)
	h.env.RegisterWorkflow(superviseSupplier)
	h.env.RegisterWorkflow(workflows.SupplierWorkflow)
	h.env.RegisterWorkflow(workflows.SupplierReviewWorkflow)
	h.env.RegisterWorkflow(workflows.CorrectiveWorkflow)
	h.ids()
	h.figures()

	review := func(n int) string { return fmt.Sprintf("SRV-%06d", n) }
	// Reviews SRV-1 at day 90, SRV-2 on demand at day 100, then SRV-3 at
	// day 180 and so on: the scheduled review of quarter q is SRV-(q+1)
	// from the second quarter on.
	scheduled := []string{review(1)}
	for q := 2; q <= 8; q++ {
		scheduled = append(scheduled, review(q+1))
	}
	dispute := h.at
	dispute(90*supDay, func() {
		require.NoError(t, h.env.SignalWorkflowByID("SUP-000001", workflows.SignalAct,
			as(workflows.Action{Action: "record_dispute", Summary: "invoice for March disputed"}, sam)))
	})
	onDemand := h.actOn(100*supDay, "SUP-000001", as(workflows.Action{Action: "trigger_review"}, sam))
	var recorded []*outcome
	for q, id := range scheduled {
		at := time.Duration(q+1)*90*supDay + supDay
		a := workflows.Action{Action: "record", Rating: 4, Decisions: "continue the contract"}
		switch q + 1 {
		case 2:
			a.Rating, a.Findings = 2, []workflows.Finding{
				{Summary: "P1 resolution target missed twice", Nonconformity: true, Clause: "schedule 2, §3"},
				{Summary: "reports arrive late", Nonconformity: false},
			}
		case 5:
			at = 5*90*supDay + 25*supDay // past the 14-day due time and the 7-day escalation
		}
		recorded = append(recorded, h.actOn(at, id, as(a, sam)))
	}
	recorded = append(recorded, h.actOn(101*supDay, review(2), as(workflows.Action{Action: "record", Rating: 3, Decisions: "watch"}, sam)))
	notMine := h.actOn(181*supDay, review(3), as(workflows.Action{Action: "record", Rating: 5, Decisions: "x"}, ivan))

	// The corrective action raised from SRV-3 (the second quarter's review).
	capa := "CAPA-000001"
	day := 182 * supDay
	steps := []workflows.Action{
		as(workflows.Action{Action: "confirm", Notes: "figures confirm it"}, paula),
		as(workflows.Action{Action: "analyse_cause", RootCause: "no weekend cover"}, paula),
		as(workflows.Action{Action: "evaluate", NeedsChange: &yes, Reason: "customer-visible"}, paula),
		as(workflows.Action{Action: "plan", Plan: "weekend on-call", Assignee: "sam", Start: t0.Add(day + 20*supDay).Format(time.RFC3339)}, paula),
		as(workflows.Action{Action: "record_results", Results: "on-call from May"}, sam),
	}
	var capaSteps []*outcome
	for i, a := range steps {
		capaSteps = append(capaSteps, h.actOn(day+time.Duration(i)*time.Hour, capa, a))
	}
	// Results at day 182+4h: the check falls due 30 days later.
	checkDue := day + 4*time.Hour + 30*supDay
	capaSteps = append(capaSteps, h.actOn(checkDue+time.Hour, capa,
		as(workflows.Action{Action: "verify", Success: &no, Notes: "still missed in June"}, paula)))
	day2 := checkDue + supDay
	for i, a := range []workflows.Action{
		as(workflows.Action{Action: "analyse_cause", RootCause: "on-call has no access to the console"}, paula),
		as(workflows.Action{Action: "evaluate", NeedsChange: &yes, Reason: "still failing"}, paula),
		as(workflows.Action{Action: "plan", Plan: "console access for on-call", Assignee: "sam", Start: t0.Add(day2 + 20*supDay).Format(time.RFC3339)}, paula),
		as(workflows.Action{Action: "record_results", Results: "access granted"}, sam),
	} {
		capaSteps = append(capaSteps, h.actOn(day2+time.Duration(i)*time.Hour, capa, a))
	}
	check2 := day2 + 3*time.Hour + 30*supDay
	capaSteps = append(capaSteps, h.actOn(check2+time.Hour, capa,
		as(workflows.Action{Action: "verify", Success: &yes, Notes: "met for a month"}, paula)))

	h.env.ExecuteWorkflow(superviseSupplier, supplierInput())
	require.True(t, h.env.IsWorkflowCompleted())
	require.NoError(t, h.env.GetWorkflowError())

	requireApplied(t, onDemand, "trigger_review")
	for i, o := range recorded {
		requireApplied(t, o, fmt.Sprintf("record review %d", i+1))
	}
	requireRejected(t, notMine, workflows.ErrForbidden, "record by someone who does not manage the contract")
	for i, o := range capaSteps {
		requireApplied(t, o, fmt.Sprintf("corrective step %d", i+1))
	}

	// The supplier: eight scheduled reviews 90 days apart and one on
	// demand, each period starting where the last ended; the contract end
	// closes it.
	sup := h.rows("SUP-000001")
	var opened []activities.Entry
	for _, p := range sup {
		if p.Entry.Action == "review_opened" {
			opened = append(opened, p.Entry)
		}
	}
	require.Len(t, opened, 9)
	var prevTo string
	for i, e := range opened {
		if i > 0 {
			require.Equal(t, prevTo, e.Detail["from"], "review %d starts where the last ended", i+1)
		}
		prevTo = e.Detail["to"].(string)
	}
	n := 0
	for _, e := range opened {
		if e.Detail["trigger"] == "schedule" {
			n++
			requireTime(t, t0.Add(time.Duration(n)*90*supDay), e.At, "scheduled review ", n)
		} else {
			require.Equal(t, "on_demand", e.Detail["trigger"])
			requireTime(t, t0.Add(100*supDay), e.At)
			require.Equal(t, "sam", e.Actor)
		}
	}
	require.Equal(t, 8, n)
	// One history across every run: numbered 1, 2, 3… with no gap and no repeat.
	for i, p := range sup {
		require.Equal(t, int64(i+1), p.Entry.Seq, "supplier history entry %d (%s)", i+1, p.Entry.Action)
	}
	final := rowRecord[workflows.Supplier](t, sup[len(sup)-1])
	require.Equal(t, workflows.SupEnded, final.Status)
	require.Equal(t, "contract_ended", sup[len(sup)-1].Entry.Action)
	requireTime(t, t0.Add(740*supDay), sup[len(sup)-1].Entry.At)
	require.Len(t, final.Disputes, 1, "the dispute signalled as the first run ended is kept, once")
	require.Equal(t, "invoice for March disputed", final.Disputes[0].Summary)
	require.Len(t, final.Reviews, 9)
	for _, r := range final.Reviews {
		require.NotZero(t, r.Rating, "the supplier knows the rating of %s", r.ID)
	}

	// The second quarter's review raised one corrective action, for the
	// nonconformity only.
	srv := rowRecord[workflows.SupplierReview](t, h.lastOf(review(3)))
	require.Equal(t, workflows.SrvClosed, srv.Status)
	require.Equal(t, []string{capa}, srv.Corrective)
	require.Len(t, srv.Findings, 2)
	require.Equal(t, capa, srv.Findings[0].Corrective)
	require.Empty(t, srv.Findings[1].Corrective)
	require.EqualValues(t, 3, srv.Figures.Incidents)
	requireTime(t, t0.Add(100*supDay), srv.From, "the period since the review on demand")
	requireTime(t, t0.Add(180*supDay), srv.To)

	// The corrective action: ineffective once, back to cause analysis,
	// then effective and closed.
	ca := h.rows(capa)
	acts := h.caseActions(capa)
	require.Equal(t, 2, count(acts, "verify"))
	require.Equal(t, 2, count(acts, "effectiveness_check_due"))
	var verifies []activities.Entry
	for _, p := range ca {
		if p.Entry.Action == "verify" {
			verifies = append(verifies, p.Entry)
		}
	}
	require.Equal(t, workflows.CapaCauseAnalysed, verifies[0].To)
	require.Equal(t, workflows.CapaClosed, verifies[1].To)
	c := rowRecord[workflows.Corrective](t, ca[len(ca)-1])
	require.Equal(t, "effective", c.Closure)
	require.Equal(t, workflows.CorrectiveSource{Kind: workflows.CapaSourceSupplierReview, ID: review(3)}, c.Source)

	// The fifth quarter's review (SRV-6), recorded on day 25: the
	// contract manager's manager heard at its due time, top management a
	// week later.
	late := h.rows(review(6))
	var esc []activities.Entry
	for _, p := range late {
		if p.Entry.Action == "overdue_escalated" {
			esc = append(esc, p.Entry)
		}
	}
	require.Len(t, esc, 2)
	require.Equal(t, "manager", esc[0].Detail["level"])
	requireTime(t, t0.Add(5*90*supDay+14*supDay), esc[0].At)
	require.Equal(t, "top_management", esc[1].Detail["level"])
	requireTime(t, t0.Add(5*90*supDay+21*supDay), esc[1].At)
	var overdue []string
	for _, p := range late {
		for _, nt := range p.Notes {
			if nt.Event == "supplier_review_overdue" && nt.Channel == "email" {
				overdue = append(overdue, nt.Recipient)
			}
		}
	}
	require.Equal(t, []string{"mona", "tess"}, overdue)
	lr := rowRecord[workflows.SupplierReview](t, late[len(late)-1])
	require.Equal(t, workflows.SrvClosed, lr.Status)
	require.False(t, lr.Overdue)
}

// last3 is the latest projection of a case.
func (h *harness) lastOf(id string) activities.ProjectInput {
	rows := h.rows(id)
	require.NotEmpty(h.t, rows, "no projection of %s", id)
	return rows[len(rows)-1]
}

func count(list []string, v string) int {
	n := 0
	for _, x := range list {
		if x == v {
			n++
		}
	}
	return n
}

// continuedSupplier is the state a run of in's supplier, registered at
// created, hands the next one when it continues as new at t0: its record
// with the next review 90 days on, seq entries so far, and the actions
// that arrived while it ended.
func continuedSupplier(in workflows.SupplierInput, created time.Time, seq int64, pending ...workflows.Action) *workflows.SupplierState {
	rec := workflows.Supplier{ID: in.ID, Kind: "suppliers", Title: in.Name, Status: workflows.SupActive, Contract: in.Contract,
		Subcontractors: []string{}, SubcontractorCIs: []string{}, ContractChanges: []string{}, Disputes: []workflows.Dispute{},
		Reviews: []workflows.ReviewSummary{}, Links: []workflows.Link{}, CreatedAt: created, CreatedBy: "paula"}
	next := t0.Add(90 * supDay)
	rec.NextReview = &next
	return &workflows.SupplierState{Record: rec, Seq: seq, Since: t0, Pending: pending}
}

// A run that continues as new hands on the actions that arrived while it
// ended: the next run applies them first, numbering on from the last entry.
func TestSupplierNewRunAppliesPendingActions(t *testing.T) {
	h := newHarness(t, t0)
	h.env.RegisterWorkflow(workflows.SupplierReviewWorkflow)
	h.ids()
	h.figures()
	in := supplierInput()
	in.State = continuedSupplier(in, t0.Add(-90*supDay), 7,
		as(workflows.Action{Action: "record_dispute", Summary: "late credit note"}, sam),
		as(workflows.Action{Action: "terminate", Reason: "not allowed for sam"}, sam),
	)
	// The run has ended when its review reports back.
	h.env.OnSignalExternalWorkflow(mock.Anything, in.ID, "", workflows.SignalAct, mock.Anything).Return(nil)
	h.actOn(90*supDay+time.Hour, "SRV-000001", as(workflows.Action{Action: "record", Rating: 4, Decisions: "continue"}, sam))
	h.env.ExecuteWorkflow(workflows.SupplierWorkflow, in)
	require.True(t, h.env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, h.env.GetWorkflowError(), &can, "the run continues as new after its review")

	rows := h.rows(in.ID)
	require.Equal(t, []string{"record_dispute", "refused", "review_opened"}, h.caseActions(in.ID))
	require.EqualValues(t, 8, rows[0].Entry.Seq)
	require.Equal(t, "terminate", rows[1].Entry.Detail["action"])
	requireTime(t, t0.Add(90*supDay), rows[2].Entry.At)
	r := rowRecord[workflows.Supplier](t, rows[2])
	require.Len(t, r.Disputes, 1)
	requireTime(t, t0.Add(180*supDay), *r.NextReview)
}

// An amended contract's review interval and escalation manager outlast the
// run that applied them: the next run gets the amended rules, not the ones
// the supplier was registered with.
func TestSupplierAmendmentSurvivesContinueAsNew(t *testing.T) {
	h := newHarness(t, t0)
	h.env.RegisterWorkflow(workflows.SupplierReviewWorkflow)
	h.ids()
	h.figures()
	in := supplierInput()
	amended := in.Contract
	amended.ReviewInterval = "30d"
	in.State = continuedSupplier(in, t0, 1,
		as(workflows.Action{Action: "amend_contract", ID: "CHG-000001", Contract: &amended, ReviewEvery: 30 * supDay, Manager: "max"}, paula),
	)
	h.env.OnSignalExternalWorkflow(mock.Anything, in.ID, "", workflows.SignalAct, mock.Anything).Return(nil)
	h.actOn(30*supDay+time.Hour, "SRV-000001", as(workflows.Action{Action: "record", Rating: 4, Decisions: "continue"}, sam))
	h.env.ExecuteWorkflow(workflows.SupplierWorkflow, in)
	require.True(t, h.env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, h.env.GetWorkflowError(), &can, "the run continues as new after its review")

	require.Equal(t, []string{"amend_contract", "review_opened"}, h.caseActions(in.ID))
	requireTime(t, t0.Add(30*supDay), h.rows(in.ID)[1].Entry.At)
	var nextIn workflows.SupplierInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &nextIn))
	require.Equal(t, 30*supDay, nextIn.Rules.ReviewEvery, "the next run reviews at the amended interval")
	require.Equal(t, "max", nextIn.Rules.Escalate, "the next run escalates to the amended manager")
	requireTime(t, t0.Add(60*supDay), *nextIn.State.Record.NextReview)
}
