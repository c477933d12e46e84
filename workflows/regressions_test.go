package workflows_test

// Regression tests: each asserts behaviour an earlier version of the
// workflows got wrong, and describes how it went wrong.

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kanri-itsm/kanri/workflows"
)

// The functional path has three groups, so there are two escalations; once
// the incident is with the last group, the response clock has nothing left
// to do. The first version kept the response timer while the number of
// escalations was below the path's length, so a third "sla_breach" entry
// was written at 45m that escalated nothing.
func TestRegressionResponseEscalationStopsAtThePathEnd(t *testing.T) {
	h := newHarness(t, t0)
	h.stopAt(2 * hour)
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, incidentInput(incidentPolicy(t), "high", "high"))
	h.requireCanceled()

	var at []string
	for _, e := range h.breaches("response") {
		at = append(at, e.At.Sub(t0).String())
	}
	require.Equal(t, []string{"15m0s", "30m0s"}, at,
		"one response breach entry per escalation, none once the path has ended")
}

// An incident resolved one second before its resolution target must not
// breach it. The projection of the resolve takes two seconds (a slow
// database, or a retry of the local activity); a transition bumps the wake
// revision only after the projection, so the main loop still slept on the
// old plan, woke at the target and ran resolutionBreach on the resolved
// incident. runTimers now reads the plan again before firing.
func TestRegressionTimerFiresOnStalePlanWhileProjecting(t *testing.T) {
	h := newHarness(t, t0)
	h.act(5*minute, startWork())
	res := h.actSlowly(4*hour-second, 2*second, resolve())
	h.stopAt(5 * hour)
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, incidentInput(incidentPolicy(t), "high", "high"))
	h.requireCanceled()
	requireApplied(t, res, "resolve")

	r := h.incident()
	require.Equal(t, workflows.StatusResolved, r.Status)
	require.Empty(t, r.SLA.Breached, "resolved before the target")
	require.Equal(t, 0, r.HierarchicalLevel)
	require.Empty(t, h.breaches("resolution"))
	require.Empty(t, h.notes("escalation"))
}

// The same race at the auto-close: a confirmation whose projection is slow
// lets the auto-close timer fire as well, so the case is closed twice (a
// "confirm" and an "auto_close" entry, and closed_at overwritten).
func TestRegressionConfirmRacesAutoClose(t *testing.T) {
	h := newHarness(t, t0)
	h.act(5*minute, startWork())
	h.act(hour, resolve())
	conf := h.actSlowly(73*hour-second, 2*second, workflows.Action{Action: "confirm", Actor: rita})
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, incidentInput(incidentPolicy(t), "high", "high"))
	h.requireFinished()
	requireApplied(t, conf, "confirm")

	require.Equal(t, []string{"open", "start", "resolve", "confirm"}, h.actions(), "closed once, by the caller")
	c := h.incident()
	requireTime(t, t0.Add(73*hour-second), *c.ClosedAt)
}

// The request workflow shares the loop: a fulfilment whose projection is slow lets the resolution
// breach of the old plan fire on the fulfilled request.
func TestRegressionRequestTimerFiresOnStalePlanWhileProjecting(t *testing.T) {
	h := newHarness(t, t0)
	h.act(10*minute, workflows.Action{Action: "start", Actor: alice})
	ful := h.actSlowly(4*hour-second, 2*second, workflows.Action{Action: "fulfil", Actor: alice, Resolution: "done"})
	h.stopAt(5 * hour)
	h.env.ExecuteWorkflow(workflows.RequestWorkflow, requestInput(requestPolicy(t, "password-reset")))
	h.requireCanceled()
	requireApplied(t, ful, "fulfil")

	r := h.request()
	require.Equal(t, workflows.ReqFulfilled, r.Status)
	require.Empty(t, r.SLA.Breached, "fulfilled before the target")
	require.Empty(t, h.breaches("resolution"))
}

// An action that ends a case may arrive by signal (email, chat). The run
// used to complete as soon as the status changed, before the signalled
// action's projection was written: AllHandlersFinished does not count the
// signal receiver. The closing entry must be in the database.
func TestRegressionSignalledCloseIsProjected(t *testing.T) {
	h := newHarness(t, t0)
	h.act(1*minute, startWork())
	h.act(2*minute, resolve())
	h.at(3*minute, func() {
		h.env.SignalWorkflow(workflows.SignalAct, workflows.Action{Action: "confirm", Actor: rita, Source: "email"})
	})
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, incidentInput(incidentPolicy(t), "high", "high"))
	h.requireFinished()
	last := h.last()
	require.Equal(t, "confirm", last.Entry.Action)
	require.Equal(t, "email", last.Entry.Detail["source"])
	require.Equal(t, workflows.StatusClosed, last.Case.Status)
}
