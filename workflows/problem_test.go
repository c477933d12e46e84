package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/workflows"
)

func problemInput(t *testing.T) workflows.ProblemInput {
	return workflows.ProblemInput{
		ID: "PRB-000001", Num: 1, Title: "Mail gateway crashes under load", Service: "email",
		Impact: "high", Urgency: "medium", Incidents: []string{"INC-000007", "INC-000009"}, Actor: alice, Source: "api",
		Matrix:    incidentPolicy(t).Matrix,
		Approvers: map[string]workflows.Quorum{"normal": {Group: "cab", Quorum: 2}, "emergency": {Group: "ecab", Quorum: 1}},
	}
}

func (h *harness) problem() workflows.Problem {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(workflows.QueryRecord)
	require.NoError(h.t, err)
	var p workflows.Problem
	require.NoError(h.t, v.Get(&p))
	return p
}

// A problem that needs a CI change resolves only after it raised an RFC
// (spec §5.5), and closes only after that change completed and after the
// review of the resolution's effectiveness. The RFC is a change workflow of
// its own, which reports its outcome to the problem; the linked incidents
// are told of their problem.
func TestProblemToRFC(t *testing.T) {
	h := newHarness(t, t0)
	var a *activities.Activities
	h.env.OnActivity(a.NextID, mock.Anything, "changes", "CHG").Return(activities.NewID{ID: "CHG-000042", Num: 42}, nil).Once()
	h.env.RegisterWorkflow(workflows.ChangeWorkflow)
	var linked []string
	h.env.OnSignalExternalWorkflow(mock.Anything, mock.Anything, "", workflows.SignalAct, mock.Anything).Return(
		func(_, id, _, _ string, arg any) error {
			l := arg.(workflows.Action)
			if l.Action == "link" && l.Kind == "problems" && l.ID == "PRB-000001" {
				linked = append(linked, id)
			}
			return nil
		})

	byRequester := h.act(1*minute, as(workflows.Action{Action: "investigate"}, rita))
	h.act(2*minute, as(workflows.Action{Action: "investigate"}, alice))
	noCause := h.act(3*minute, as(workflows.Action{Action: "record_known_error"}, alice))
	h.act(4*minute, as(workflows.Action{Action: "record_known_error", RootCause: "a memory leak in the TLS library", Workaround: "restart nightly", NeedsChange: &yes}, alice))
	early := h.act(5*minute, as(workflows.Action{Action: "resolve", Resolution: "patched"}, alice))
	badType := h.act(6*minute, as(workflows.Action{Action: "raise_change", Type: "standard", BackoutPlan: "x"}, alice))
	var before workflows.Problem
	h.at(6*minute+30*second, func() { before = h.problem() })
	raise := h.act(7*minute, as(workflows.Action{Action: "raise_change", Type: "normal", BackoutPlan: "downgrade the library"}, alice))
	h.act(8*minute, as(workflows.Action{Action: "resolve", Resolution: "patched by CHG-000042"}, alice))
	agentReview := h.act(9*minute, as(workflows.Action{Action: "review", Summary: "no repeats"}, alice))
	h.act(10*minute, as(workflows.Action{Action: "review", Summary: "no repeat incidents in a week"}, tess))
	unchanged := h.act(11*minute, as(workflows.Action{Action: "close"}, alice))
	var waiting workflows.Problem
	h.at(11*minute+30*second, func() { waiting = h.problem() })
	// The CAB approves the RFC and it is implemented (by signal, as chat
	// would send it); its completion reaches the problem.
	for i, a := range []workflows.Action{
		as(assess, alice), as(workflows.Action{Action: "submit"}, alice),
		as(workflows.Action{Action: "approve"}, cab1), as(workflows.Action{Action: "approve"}, cab2),
		as(workflows.Action{Action: "implement"}, alice), as(workflows.Action{Action: "complete", Success: &yes}, alice),
	} {
		h.at(12*minute+time.Duration(i)*minute, func() {
			require.NoError(t, h.env.SignalWorkflowByID("CHG-000042", workflows.SignalAct, a))
		})
	}
	h.act(20*minute, as(workflows.Action{Action: "close"}, alice))
	// The abandoned RFC runs on after the problem closes; the test
	// environment waits for it.
	for i, a := range []workflows.Action{as(workflows.Action{Action: "review", Summary: "fine"}, tess), as(workflows.Action{Action: "close"}, alice)} {
		h.at(21*minute+time.Duration(i)*minute, func() {
			require.NoError(t, h.env.SignalWorkflowByID("CHG-000042", workflows.SignalAct, a))
		})
	}
	h.env.ExecuteWorkflow(workflows.ProblemWorkflow, problemInput(t))
	h.requireFinished()

	requireRejected(t, byRequester, workflows.ErrForbidden, "a requester investigates")
	requireRejected(t, noCause, workflows.ErrInvalid, "a known error without a root cause")
	requireRejected(t, early, workflows.ErrConflict, "resolve before the RFC")
	requireRejected(t, badType, workflows.ErrInvalid, "a standard RFC from a problem")
	requireApplied(t, raise, "raise_change")
	requireRejected(t, agentReview, workflows.ErrForbidden, "review by an agent")
	requireRejected(t, unchanged, workflows.ErrConflict, "close before the RFC completed")

	require.Equal(t, "an RFC for the CI change (raise_rfc)", before.WaitingFor)
	require.Equal(t, "completion of CHG-000042", waiting.WaitingFor)
	require.Equal(t, []string{"INC-000007", "INC-000009"}, linked, "each linked incident hears of its problem")
	p := h.problem()
	require.Equal(t, workflows.PrbClosed, p.Status)
	require.Equal(t, "P2", p.Priority)
	require.Equal(t, []string{"CHG-000042"}, p.RFCs)
	require.Contains(t, p.RFCStates, workflows.CaseState{ID: "CHG-000042", Status: workflows.ChgCompleted, Success: true})
	require.Contains(t, p.Links, workflows.Link{Kind: "changes", ID: "CHG-000042", Relation: "rfc"})
	require.Contains(t, p.Links, workflows.Link{Kind: "incidents", ID: "INC-000007", Relation: "caused_by_this"})
	require.Equal(t, "tess", p.Review.By)

	// The known error went to the known-error database with each
	// transition from the moment it was recorded.
	var known *activities.ProjectInput
	for _, pi := range h.all() {
		if pi.Case.ID == "PRB-000001" && pi.KnownError != nil {
			known = &pi
		}
	}
	require.NotNil(t, known, "the known error was never projected")
	require.Equal(t, "a memory leak in the TLS library", known.KnownError.RootCause)
	require.Equal(t, "restart nightly", known.KnownError.Workaround)

	// The change opened as a case of its own, requested by the person who
	// raised it, with the problem's approvers.
	var opened []activities.ProjectInput
	for _, pi := range h.all() {
		if pi.Case.ID == "CHG-000042" {
			opened = append(opened, pi)
		}
	}
	require.NotEmpty(t, opened, "the RFC was never projected")
	require.Equal(t, "open", opened[0].Entry.Action)
	require.Equal(t, "alice", opened[0].Entry.Actor)
	require.Equal(t, workflows.ChgRequested, opened[0].Case.Status)
	require.Equal(t, "changes", opened[0].Case.Kind)
	require.Equal(t, workflows.ChgClosed, opened[len(opened)-1].Case.Status)
	rfc := h.entries("raise_change")[0]
	require.Equal(t, "CHG-000042", rfc.Detail["rfc"])
}
