package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/workflows"
)

func releaseInput() workflows.ReleaseInput {
	return workflows.ReleaseInput{
		ID: "REL-000001", Num: 1, Title: "Mail server 2.5", Change: "CHG-000001", ChangeStatus: workflows.ChgScheduled,
		Window: &workflows.Window{Start: t0.Add(time.Hour), End: t0.Add(3 * time.Hour)},
		CIs:    []string{"mail-app"}, Services: []string{"email"}, Problems: []string{"PRB-000003"},
		AcceptanceCriteria: []string{"mail flows in both directions", "no data loss"},
		Actor:              alice, Source: "change CHG-000001", Rules: rules().Release,
	}
}

func (h *harness) release() workflows.Release {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(workflows.QueryRecord)
	require.NoError(h.t, err)
	var r workflows.Release
	require.NoError(h.t, v.Get(&r))
	return r
}

// releaseMocks answers the baseline and incident-count activities and
// records the statuses the release reports to its change.
type releaseMocks struct {
	baselines []activities.BaselineInput
	counts    []activities.IncidentCount
	told      []string
}

func mockRelease(h *harness, incidents int64) *releaseMocks {
	m := &releaseMocks{}
	var a *activities.Activities
	h.env.OnActivity(a.TakeBaseline, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.BaselineInput) (activities.Baseline, error) {
			m.baselines = append(m.baselines, in)
			return activities.Baseline{Name: in.Name, At: in.At, Items: []activities.CIRevision{{CI: "mail-app", Rev: 3, Version: "2.4"}}}, nil
		})
	h.env.OnActivity(a.CountIncidents, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.IncidentCount) (int64, error) {
			m.counts = append(m.counts, in)
			return incidents, nil
		})
	h.env.OnSignalExternalWorkflow(mock.Anything, "CHG-000001", "", workflows.SignalReleaseState, mock.Anything).Return(
		func(_, _, _, _ string, arg any) error {
			m.told = append(m.told, arg.(workflows.CaseState).Status)
			return nil
		})
	return m
}

// A release is built, tested against its acceptance criteria (a failed
// test goes back to build), approved by someone other than its planner,
// and deployed only while its change implements and inside the change's
// window, after a baseline of its CIs. Early-life support counts the
// incidents on its services, then it is reviewed and closed.
func TestReleaseLifecycle(t *testing.T) {
	h := newHarness(t, t0)
	m := mockRelease(h, 2)
	h.act(1*minute, as(workflows.Action{Action: "build", Version: "2.5.0"}, alice))
	h.act(2*minute, as(workflows.Action{Action: "test", Passed: &no, Results: "mail lost on restart"}, alice))
	agentDecides := h.act(3*minute, as(workflows.Action{Action: "decide", Accept: &yes, Comment: "ship it"}, alice))
	h.act(4*minute, as(workflows.Action{Action: "build", Version: "2.5.1"}, alice))
	h.act(5*minute, as(workflows.Action{Action: "test", Passed: &yes, Results: "both criteria met"}, alice))
	own := h.act(6*minute, as(workflows.Action{Action: "approve"}, alice))
	h.act(7*minute, as(workflows.Action{Action: "approve", Comment: "go"}, cab1))
	notImplementing := h.act(8*minute, as(workflows.Action{Action: "deploy"}, alice))
	h.at(9*minute, func() {
		h.env.SignalWorkflow(workflows.SignalChangeState, workflows.CaseState{ID: "CHG-000001", Status: workflows.ChgImplementing,
			Window: &workflows.Window{Start: t0.Add(time.Hour), End: t0.Add(3 * time.Hour)}})
	})
	early := h.act(10*minute, as(workflows.Action{Action: "deploy"}, alice))
	h.act(61*minute, as(workflows.Action{Action: "deploy"}, alice))
	var inEarlyLife workflows.Release
	h.at(2*time.Hour, func() { inEarlyLife = h.release() })
	tooSoon := h.act(3*time.Hour, as(workflows.Action{Action: "review", Summary: "x"}, tess))
	h.act(80*time.Hour, as(workflows.Action{Action: "review", Summary: "two incidents, both known errors"}, tess))
	h.act(81*time.Hour, as(workflows.Action{Action: "close"}, alice))
	h.env.ExecuteWorkflow(workflows.ReleaseWorkflow, releaseInput())
	h.requireFinished()

	requireRejected(t, agentDecides, workflows.ErrForbidden, "an agent decides on unmet criteria")
	requireRejected(t, own, workflows.ErrForbidden, "the planner approves")
	requireRejected(t, notImplementing, workflows.ErrConflict, "deploy before the change implements")
	requireRejected(t, early, workflows.ErrConflict, "deploy before the window")
	requireRejected(t, tooSoon, workflows.ErrConflict, "review during early life")

	require.Equal(t, workflows.RelEarlyLife, inEarlyLife.Status)
	require.Equal(t, "early-life support until "+t0.Add(61*minute+72*time.Hour).Format(time.RFC3339), inEarlyLife.WaitingFor)
	require.Equal(t, []string{"open", "build", "test", "build", "test", "approve", "change_implementing", "deploy", "early_life_ended", "review", "close"}, h.actions())
	r := h.release()
	require.Equal(t, workflows.RelClosed, r.Status)
	require.Len(t, r.Tests, 2)
	require.Equal(t, "2.5.0", r.Tests[0].Version)
	require.False(t, r.Tests[0].Passed)
	require.Equal(t, "2.5.1", r.Tests[1].Version)
	require.Equal(t, "cab1", r.Approvals[0].By)
	require.Equal(t, "REL-000001 pre-deployment", r.Baseline.Name)
	require.Equal(t, []activities.BaselineInput{{Name: "REL-000001 pre-deployment", Release: "REL-000001", CIs: []string{"mail-app"}, By: "alice", At: t0.Add(61 * minute)}}, m.baselines)
	require.NotNil(t, r.Deployment.Incidents)
	require.EqualValues(t, 2, *r.Deployment.Incidents)
	require.Len(t, m.counts, 1)
	requireTime(t, t0.Add(61*minute), m.counts[0].From)
	requireTime(t, t0.Add(61*minute+72*time.Hour), m.counts[0].To)
	require.Equal(t, []string{"built", "criteria_not_met", "built", "accepted", "approved", "early_life", "deployed", "reviewed", "closed"}, m.told)
	require.Contains(t, r.Links, workflows.Link{Kind: "problems", ID: "PRB-000003", Relation: "resolves"})
}

// A release rolled back in early life stops the early-life clock; it is
// reviewed (the investigation) and closed.
func TestReleaseRollback(t *testing.T) {
	in := releaseInput()
	in.ChangeStatus = workflows.ChgImplementing
	in.Window = &workflows.Window{Start: t0, End: t0.Add(3 * time.Hour)}
	h := newHarness(t, t0)
	m := mockRelease(h, 0)
	h.act(1*minute, as(workflows.Action{Action: "build", Version: "2.5.0"}, alice))
	h.act(2*minute, as(workflows.Action{Action: "test", Passed: &yes, Results: "ok"}, alice))
	h.act(3*minute, as(workflows.Action{Action: "approve"}, cab1))
	h.act(4*minute, as(workflows.Action{Action: "deploy"}, alice))
	noReason := h.act(5*minute, as(workflows.Action{Action: "rollback"}, alice))
	h.act(6*minute, as(workflows.Action{Action: "rollback", Reason: "queue stalls under load"}, alice))
	h.act(100*time.Hour, as(workflows.Action{Action: "review", Summary: "load test missed the queue"}, tess))
	h.act(101*time.Hour, as(workflows.Action{Action: "close"}, alice))
	h.env.ExecuteWorkflow(workflows.ReleaseWorkflow, in)
	h.requireFinished()
	requireRejected(t, noReason, workflows.ErrInvalid, "rollback without a reason")
	require.Empty(t, h.entries("early_life_ended"), "a rolled-back release ends its early life")
	require.Empty(t, m.counts)
	r := h.release()
	require.Equal(t, "queue stalls under load", r.Deployment.RollbackReason)
	require.Contains(t, m.told, workflows.RelRolledBack)
}

// A change that planned a release completes successfully only once the
// release has deployed; the release is a child workflow that tells the
// change each status, and hears the change's window and status.
func TestChangeWaitsForItsRelease(t *testing.T) {
	in := ruledChange("normal")
	in.CIs = []string{"mail-app"}
	h := newHarness(t, t0)
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: in.ID})
	var a *activities.Activities
	h.env.OnActivity(a.NextID, mock.Anything, "releases", "REL").Return(activities.NewID{ID: "REL-000007", Num: 7}, nil).Once()
	h.env.OnActivity(a.TakeBaseline, mock.Anything, mock.Anything).Return(activities.Baseline{Name: "REL-000007 pre-deployment"}, nil)
	h.env.OnActivity(a.CountIncidents, mock.Anything, mock.Anything).Return(int64(0), nil)
	h.env.RegisterWorkflow(workflows.ReleaseWorkflow)

	h.act(1*minute, as(assess, cab3))
	h.act(2*minute, as(workflows.Action{Action: "submit"}, cab3))
	h.act(3*minute, as(workflows.Action{Action: "approve"}, cab1))
	h.act(4*minute, as(workflows.Action{Action: "approve"}, cab2))
	h.act(5*minute, as(workflows.Action{Action: "schedule", Start: t0.Add(10 * minute).Format(time.RFC3339), End: t0.Add(5 * time.Hour).Format(time.RFC3339)}, alice))
	noCriteria := h.act(6*minute, as(workflows.Action{Action: "plan_release", Title: "Mail 2.5"}, alice))
	plan := h.act(7*minute, as(workflows.Action{Action: "plan_release", Title: "Mail 2.5", AcceptanceCriteria: []string{"mail flows"}}, alice))
	h.act(8*minute, as(workflows.Action{Action: "implement"}, alice))
	early := h.act(9*minute, as(workflows.Action{Action: "complete", Success: &yes}, alice))
	var waiting workflows.Change
	h.at(9*minute+30*time.Second, func() { waiting = h.change() })
	for i, ra := range []workflows.Action{
		as(workflows.Action{Action: "build", Version: "2.5"}, alice),
		as(workflows.Action{Action: "test", Passed: &yes, Results: "mail flows"}, alice),
		as(workflows.Action{Action: "approve"}, cab1),
		as(workflows.Action{Action: "deploy"}, alice),
	} {
		h.at(10*minute+time.Duration(i)*minute, func() {
			require.NoError(t, h.env.SignalWorkflowByID("REL-000007", workflows.SignalAct, ra))
		})
	}
	h.act(20*minute, as(workflows.Action{Action: "complete", Success: &yes}, alice))
	h.act(21*minute, as(workflows.Action{Action: "review", Summary: "clean"}, tess))
	h.act(22*minute, as(workflows.Action{Action: "close"}, alice))
	// The release runs on through its early life and is closed after.
	for i, ra := range []workflows.Action{as(workflows.Action{Action: "review", Summary: "quiet"}, tess), as(workflows.Action{Action: "close"}, alice)} {
		h.at(100*time.Hour+time.Duration(i)*minute, func() {
			require.NoError(t, h.env.SignalWorkflowByID("REL-000007", workflows.SignalAct, ra))
		})
	}
	h.env.ExecuteWorkflow(workflows.ChangeWorkflow, in)
	h.requireFinished()

	requireRejected(t, noCriteria, workflows.ErrInvalid, "a release without acceptance criteria")
	requireApplied(t, plan, "plan_release")
	requireRejected(t, early, workflows.ErrConflict, "complete before the release deployed")
	require.Equal(t, "deployment of REL-000007", waiting.WaitingFor)
	c := h.change()
	require.Equal(t, workflows.ChgClosed, c.Status)
	require.Equal(t, []workflows.ReleaseRef{{ID: "REL-000007", Status: workflows.RelEarlyLife, Deployed: true}}, c.Releases)
	require.Contains(t, c.Links, workflows.Link{Kind: "releases", ID: "REL-000007", Relation: "release"})
	var relStatuses, relActions []string
	for _, p := range h.all() {
		if p.Case.ID == "REL-000007" {
			if n := len(relStatuses); n == 0 || relStatuses[n-1] != p.Case.Status {
				relStatuses = append(relStatuses, p.Case.Status)
			}
			relActions = append(relActions, p.Entry.Action)
		}
	}
	// The release hears each status of its change, and records it.
	require.Contains(t, relActions, "change_implementing")
	require.Contains(t, relActions, "change_closed")
	require.Equal(t, []string{"planned", "built", "accepted", "approved", "early_life", "deployed", "reviewed", "closed"}, relStatuses)
	require.Contains(t, h.actions(), "release_early_life")
}

// A change whose release was rejected cannot claim success, a change with
// a release must be scheduled before it implements, and a release whose
// change went another way is withdrawn and ends.
func TestChangeWithRejectedRelease(t *testing.T) {
	in := ruledChange("normal")
	in.CIs = []string{"mail-app"}
	h := newHarness(t, t0)
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: in.ID})
	var a *activities.Activities
	h.env.OnActivity(a.NextID, mock.Anything, "releases", "REL").Return(activities.NewID{ID: "REL-000008", Num: 8}, nil).Once()
	h.env.RegisterWorkflow(workflows.ReleaseWorkflow)

	h.act(1*minute, as(assess, cab3))
	h.act(2*minute, as(workflows.Action{Action: "submit"}, cab3))
	h.act(3*minute, as(workflows.Action{Action: "approve"}, cab1))
	h.act(4*minute, as(workflows.Action{Action: "approve"}, cab2))
	h.act(5*minute, as(workflows.Action{Action: "plan_release", Title: "Mail 2.5", AcceptanceCriteria: []string{"mail flows"}}, alice))
	unscheduled := h.act(6*minute, as(workflows.Action{Action: "implement"}, alice))
	h.act(7*minute, as(workflows.Action{Action: "schedule", Start: t0.Format(time.RFC3339), End: t0.Add(time.Hour).Format(time.RFC3339)}, alice))
	h.act(8*minute, as(workflows.Action{Action: "implement"}, alice))
	for i, ra := range []workflows.Action{
		as(workflows.Action{Action: "build", Version: "2.5"}, alice),
		as(workflows.Action{Action: "test", Passed: &yes, Results: "ok"}, alice),
		as(workflows.Action{Action: "reject", Comment: "not now"}, cab1),
	} {
		h.at(9*minute+time.Duration(i)*minute, func() {
			require.NoError(t, h.env.SignalWorkflowByID("REL-000008", workflows.SignalAct, ra))
		})
	}
	claim := h.act(15*minute, as(workflows.Action{Action: "complete", Success: &yes}, alice))
	longer := h.act(16*minute, as(workflows.Action{Action: "schedule", Start: t0.Format(time.RFC3339), End: t0.Add(3 * time.Hour).Format(time.RFC3339)}, alice))
	h.act(17*minute, as(workflows.Action{Action: "complete", Success: &no, Notes: "release rejected"}, alice))
	h.act(18*minute, as(workflows.Action{Action: "back_out", Reason: "nothing deployed"}, alice))
	h.act(19*minute, as(workflows.Action{Action: "investigate", Summary: "the release was not ready"}, alice))
	h.act(20*minute, as(workflows.Action{Action: "review", Summary: "plan the release earlier"}, tess))
	h.act(21*minute, as(workflows.Action{Action: "close"}, alice))
	h.at(22*minute, func() {
		require.NoError(t, h.env.SignalWorkflowByID("REL-000008", workflows.SignalAct, as(workflows.Action{Action: "close"}, alice)))
	})
	h.env.ExecuteWorkflow(workflows.ChangeWorkflow, in)
	h.requireFinished()
	requireRejected(t, unscheduled, workflows.ErrConflict, "implement with a release and no window")
	requireRejected(t, claim, workflows.ErrConflict, "success with only a rejected release")
	requireApplied(t, longer, "a longer window while implementing")
	c := h.change()
	require.Equal(t, workflows.ChgClosed, c.Status)
	require.Equal(t, []workflows.ReleaseRef{{ID: "REL-000008", Status: workflows.RelRejected}}, c.Releases)
}

// A release can be withdrawn before it deploys, which ends it.
func TestReleaseWithdrawn(t *testing.T) {
	h := newHarness(t, t0)
	m := mockRelease(h, 0)
	h.act(1*minute, as(workflows.Action{Action: "build", Version: "2.5.0"}, alice))
	noReason := h.act(2*minute, as(workflows.Action{Action: "withdraw"}, alice))
	h.act(3*minute, as(workflows.Action{Action: "withdraw", Reason: "the change failed"}, alice))
	h.env.ExecuteWorkflow(workflows.ReleaseWorkflow, releaseInput())
	h.requireFinished()
	requireRejected(t, noReason, workflows.ErrInvalid, "withdraw without a reason")
	require.Equal(t, workflows.RelWithdrawn, h.release().Status)
	require.Equal(t, []string{"built", "withdrawn"}, m.told)
}
