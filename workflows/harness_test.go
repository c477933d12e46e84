package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/workflows"
)

// testConfig is the acceptance configuration with the targets of CONTRACT §3:
// P1 15m/4h, warning 0.75, the three-step functional path whose groups mona
// manages, tess as top management, auto-close after 72h, 24x7.
const testConfig = `
users:
  - {id: admin, name: Ada Admin, email: admin@example.com, roles: [admin]}
  - {id: alice, name: Alice Agent, email: alice@example.com, roles: [agent]}
  - {id: bob, name: Bob Second, email: bob@example.com, roles: [agent]}
  - {id: carl, name: Carl Third, email: carl@example.com, roles: [agent]}
  - {id: mona, name: Mona Manager, email: mona@example.com, roles: [agent]}
  - {id: mark, name: Mark Manager, email: mark@example.com, roles: [requester]}
  - {id: tess, name: Tess Top, email: tess@example.com, roles: [process_owner]}
  - {id: rita, name: Rita Requester, email: rita@example.com, roles: [requester]}
  - {id: rob, name: Rob Requester, email: rob@example.com, roles: [requester]}
  - {id: eve, name: Eve Outsider, email: eve@example.com, roles: [agent]}
groups:
  - {id: service-desk, name: Service desk, members: [alice], manager: mona}
  - {id: second-line, name: Second line, members: [bob], manager: mona}
  - {id: third-line, name: Third line, members: [carl], manager: mona}
  - {id: managers, name: Line managers, members: [mona, mark, rita], manager: tess}
services:
  - {id: email, name: Corporate email, owner: mona}
top_management: [tess]
priority_matrix:
  high:   {high: P1, medium: P2, low: P3}
  medium: {high: P2, medium: P3, low: P4}
  low:    {high: P3, medium: P4, low: P4}
sla:
  targets:
    P1: {response: 15m, resolution: 4h}
    P2: {response: 30m, resolution: 8h}
    P3: {response: 4h,  resolution: 3d}
    P4: {response: 8h,  resolution: 5d}
  warning: 0.75
  calendar: 24x7
escalation:
  functional: [service-desk, second-line, third-line]
auto_close_after: 72h
change_policy:
  standard_changes: [password reset]
  approvers:
    normal:    {group: managers, quorum: 2}
    emergency: {group: managers, quorum: 1}
    major:     {group: managers, quorum: 3}
request_catalogue:
  - {id: password-reset, name: Password reset, group: service-desk, response: 1h, resolution: 4h}
  - {id: new-laptop, name: New laptop, group: service-desk, response: 8h, resolution: 120h, approval: {group: managers, quorum: 2}}
`

// t0 is a Monday; every 24x7 test starts there.
var t0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

func testPolicyConfig(t testing.TB) *policy.Config {
	t.Helper()
	c, err := policy.Parse([]byte(testConfig))
	require.NoError(t, err)
	return c
}

func incidentPolicy(t testing.TB) policy.IncidentPolicy {
	return testPolicyConfig(t).IncidentPolicy()
}

func requestPolicy(t testing.TB, item string) policy.RequestPolicy {
	t.Helper()
	p, err := testPolicyConfig(t).RequestPolicy(item)
	require.NoError(t, err)
	return p
}

// Actors as the API resolves them.
var (
	alice = workflows.Actor{ID: "alice", Roles: []string{policy.RoleAgent}, Groups: []string{"service-desk"}}
	carl  = workflows.Actor{ID: "carl", Roles: []string{policy.RoleAgent}, Groups: []string{"third-line"}}
	mona  = workflows.Actor{ID: "mona", Roles: []string{policy.RoleAgent}, Groups: []string{"service-desk", "managers"}}
	mark  = workflows.Actor{ID: "mark", Roles: []string{policy.RoleRequester}, Groups: []string{"managers"}}
	tess  = workflows.Actor{ID: "tess", Roles: []string{policy.RoleProcessOwner}}
	rita  = workflows.Actor{ID: "rita", Roles: []string{policy.RoleRequester}, Groups: []string{"managers"}}
	rob   = workflows.Actor{ID: "rob", Roles: []string{policy.RoleRequester}}
	eve   = workflows.Actor{ID: "eve", Roles: []string{policy.RoleAgent}}
)

func incidentInput(pol policy.IncidentPolicy, impact, urgency string) workflows.IncidentInput {
	return workflows.IncidentInput{
		ID: "INC-000001", Num: 1, Title: "Mail is down", Description: "No mail since 08:00",
		Service: "email", Impact: impact, Urgency: urgency, Caller: "rita", Actor: rita,
		Source: "api", Policy: pol,
	}
}

func requestInput(pol policy.RequestPolicy) workflows.RequestInput {
	return workflows.RequestInput{
		ID: "REQ-000001", Num: 1, Title: "Please help", Service: "email",
		Caller: "rita", Actor: rita, Source: "api", Policy: pol,
	}
}

// harness runs one workflow in the time-skipping test environment with the
// projection local activity mocked: every ProjectInput is captured.
type harness struct {
	t     *testing.T
	env   *testsuite.TestWorkflowEnvironment
	start time.Time

	mu          sync.Mutex
	projections []activities.ProjectInput
	slow        time.Duration // the next projection takes this long (workflow time)
	updates     int
}

func newHarness(t *testing.T, start time.Time) *harness {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	h := &harness{t: t, env: env, start: start}
	// The workflow runs the local activity by the method value of a nil
	// *Activities; the mock is keyed by the method's name, "Project".
	var a *activities.Activities
	env.OnActivity(a.Project, mock.Anything, mock.Anything).
		AfterFn(func() time.Duration {
			h.mu.Lock()
			defer h.mu.Unlock()
			d := h.slow
			h.slow = 0
			return d
		}).
		Return(func(_ context.Context, in activities.ProjectInput) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.projections = append(h.projections, in)
			return nil
		})
	return h
}

// at runs f when the workflow clock is at start+d.
func (h *harness) at(d time.Duration, f func()) {
	h.env.RegisterDelayedCallback(f, d)
}

// stopAt cancels the workflow at start+d, for cases that would otherwise
// wait for an action for ever.
func (h *harness) stopAt(d time.Duration) {
	h.at(d, h.env.CancelWorkflow)
}

// outcome is what became of one update.
type outcome struct {
	sent     bool
	accepted bool
	rejected error
	err      error
	done     bool
}

// act sends the action through the "act" update at start+d.
func (h *harness) act(d time.Duration, a workflows.Action) *outcome {
	h.updates++
	id := fmt.Sprintf("update-%d", h.updates)
	o := &outcome{}
	h.at(d, func() {
		o.sent = true
		h.env.UpdateWorkflow(workflows.UpdateAct, id, &testsuite.TestUpdateCallback{
			OnAccept:   func() { o.accepted = true },
			OnReject:   func(err error) { o.rejected, o.done = err, true },
			OnComplete: func(_ any, err error) { o.err, o.done = err, true },
		}, a)
	})
	return o
}

// requireApplied asserts that the update was accepted and completed.
func requireApplied(t *testing.T, o *outcome, what string) {
	t.Helper()
	require.True(t, o.sent, "%s: never sent", what)
	require.NoError(t, o.rejected, "%s: rejected", what)
	require.True(t, o.accepted, "%s: not accepted", what)
	require.True(t, o.done, "%s: not completed", what)
	require.NoError(t, o.err, "%s: failed", what)
}

// requireRejected asserts that the validator refused the update with the
// ApplicationError type (Forbidden, Conflict, Invalid).
func requireRejected(t *testing.T, o *outcome, errType, what string) {
	t.Helper()
	require.True(t, o.sent, "%s: never sent", what)
	require.False(t, o.accepted, "%s: accepted", what)
	require.Error(t, o.rejected, "%s: not rejected", what)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(o.rejected, &appErr), "%s: %T %v is not an ApplicationError", what, o.rejected, o.rejected)
	require.Equal(t, errType, appErr.Type(), "%s: %v", what, o.rejected)
}

func (h *harness) all() []activities.ProjectInput {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.projections)
}

func (h *harness) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.projections)
}

// entries returns the history entries with the action, in order.
func (h *harness) entries(action string) []activities.Entry {
	var out []activities.Entry
	for _, p := range h.all() {
		if p.Entry.Action == action {
			out = append(out, p.Entry)
		}
	}
	return out
}

// breaches returns the sla_breach entries of the target.
func (h *harness) breaches(target string) []activities.Entry {
	var out []activities.Entry
	for _, e := range h.entries("sla_breach") {
		if e.Detail["target"] == target {
			out = append(out, e)
		}
	}
	return out
}

// actions lists the history's actions in order.
func (h *harness) actions() []string {
	var out []string
	for _, p := range h.all() {
		out = append(out, p.Entry.Action)
	}
	return out
}

// notes returns the email notifications of the event, in order.
func (h *harness) notes(event string) []activities.Note { return h.notesIn("email", event) }

// notesIn returns the notifications of the event on a channel, in order.
func (h *harness) notesIn(channel, event string) []activities.Note {
	var out []activities.Note
	for _, p := range h.all() {
		for _, n := range p.Notes {
			if n.Event == event && n.Channel == channel {
				out = append(out, n)
			}
		}
	}
	return out
}

func recipients(ns []activities.Note) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Recipient)
	}
	return out
}

// last returns the latest projection.
func (h *harness) last() activities.ProjectInput {
	all := h.all()
	require.NotEmpty(h.t, all)
	return all[len(all)-1]
}

func (h *harness) incident() workflows.Incident {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(workflows.QueryRecord)
	require.NoError(h.t, err)
	var r workflows.Incident
	require.NoError(h.t, v.Get(&r))
	return r
}

func (h *harness) request() workflows.Request {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(workflows.QueryRecord)
	require.NoError(h.t, err)
	var r workflows.Request
	require.NoError(h.t, v.Get(&r))
	return r
}

// rowRecord decodes the record the projection carried in its case row.
func rowRecord[T any](t *testing.T, p activities.ProjectInput) T {
	t.Helper()
	var r T
	require.NoError(t, json.Unmarshal(p.Case.Record, &r))
	return r
}

// requireTime compares instants to the nanosecond, printing both in UTC.
func requireTime(t *testing.T, want, got time.Time, msgAndArgs ...any) {
	t.Helper()
	require.True(t, want.Equal(got), "want %s, got %s %v", want.UTC().Format(time.RFC3339Nano), got.UTC().Format(time.RFC3339Nano), fmt.Sprint(msgAndArgs...))
}

// requireCanceled asserts that the run ended by the harness's cancel.
func (h *harness) requireCanceled() {
	h.t.Helper()
	require.True(h.t, h.env.IsWorkflowCompleted())
	var canceled *temporal.CanceledError
	require.True(h.t, errors.As(h.env.GetWorkflowError(), &canceled), "want a canceled run, got %v", h.env.GetWorkflowError())
}

// requireFinished asserts that the workflow ended by itself, without error.
func (h *harness) requireFinished() {
	h.t.Helper()
	require.True(h.t, h.env.IsWorkflowCompleted())
	require.NoError(h.t, h.env.GetWorkflowError())
}

// snap is the record as a query returned it at one instant of the run.
type snap[T any] struct {
	taken bool
	err   error
	rec   T
	n     int // projections so far
	now   time.Time
}

// snapshotAt queries the record at start+d.
func snapshotAt[T any](h *harness, d time.Duration) *snap[T] {
	s := &snap[T]{}
	h.at(d, func() {
		v, err := h.env.QueryWorkflow(workflows.QueryRecord)
		if err == nil {
			err = v.Get(&s.rec)
		}
		s.taken, s.err, s.n, s.now = true, err, h.count(), h.env.Now()
	})
	return s
}

func (s *snap[T]) get(t *testing.T) T {
	t.Helper()
	require.True(t, s.taken, "snapshot never taken")
	require.NoError(t, s.err)
	return s.rec
}

// entriesBetween returns the entries with from <= At < to.
func (h *harness) entriesBetween(from, to time.Time) []activities.Entry {
	var out []activities.Entry
	for _, p := range h.all() {
		if !p.Entry.At.Before(from) && p.Entry.At.Before(to) {
			out = append(out, p.Entry)
		}
	}
	return out
}

// projectionOf returns the projection of the entry with the seq.
func (h *harness) projectionOf(seq int64) activities.ProjectInput {
	h.t.Helper()
	for _, p := range h.all() {
		if p.Entry.Seq == seq {
			return p
		}
	}
	h.t.Fatalf("no projection #%d", seq)
	return activities.ProjectInput{}
}

// actSlowly sends the action at start+d and makes its projection take slow
// (workflow time), as when the database is slow or the local activity is
// retried.
func (h *harness) actSlowly(d, slow time.Duration, a workflows.Action) *outcome {
	h.at(d, func() {
		h.mu.Lock()
		h.slow = slow
		h.mu.Unlock()
	})
	return h.act(d, a)
}
