// Package workflows holds one Temporal workflow per ITSM process. Each case
// (INC-000042) is one workflow execution whose id is the case id; the workflow
// owns the case's lifecycle, and every transition is projected into the
// database by an activity before the caller hears of it.
package workflows

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/policy"
)

// Names shared by every case workflow.
const (
	// TaskQueue is the default task queue of Kanri's workers.
	TaskQueue = "kanri"
	// UpdateAct applies one action ({"action": "resolve", ...}) and returns the
	// record once the transition is in the database.
	UpdateAct = "act"
	// UpdateOpened waits until the opening of the case is in the database and
	// returns the record; a server sends it with the start (UpdateWithStart).
	// kanri dev starts cases eagerly instead (cases.Service.EagerOpen).
	UpdateOpened = "opened"
	// SignalAct carries an action from a channel that must never lose it
	// (email, chat). It goes through the same checks as UpdateAct; a refused
	// signal is recorded in the history rather than dropped silently.
	SignalAct = "act"
	// SignalOpened is what a case started by another case (a problem's
	// RFC) sends its parent once its opening is in the database.
	SignalOpened = "child_opened"
	// QueryRecord returns the record as the workflow holds it.
	QueryRecord = "record"
)

// Error types carried by the ApplicationErrors that validators return; the
// API maps them to 403, 409 and 422.
const (
	ErrForbidden = "Forbidden"
	ErrConflict  = "Conflict"
	ErrInvalid   = "Invalid"
)

func forbidden(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrForbidden, nil)
}

func conflict(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrConflict, nil)
}

func invalid(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrInvalid, nil)
}

// Actor is who asks for an action, as the edge (API, email, chat) resolved
// them at the time of asking. Group membership travels with the request
// because it may change while a case runs.
type Actor struct {
	ID     string   `json:"id"`
	Roles  []string `json:"roles"`
	Groups []string `json:"groups"`
}

// Has reports whether the actor holds one of the roles.
func (a Actor) Has(roles ...string) bool {
	for _, r := range roles {
		if slices.Contains(a.Roles, r) {
			return true
		}
	}
	return false
}

// InGroup reports whether the actor is a member of the group.
func (a Actor) InGroup(g string) bool { return slices.Contains(a.Groups, g) }

// System is the actor of transitions the workflow makes by itself (timers).
var systemActor = Actor{ID: "system"}

// Link relates a case to another case.
type Link struct {
	Kind     string `json:"kind"`
	ID       string `json:"id"`
	Relation string `json:"relation"`
}

// Approval is one decision on a case that needs approval.
type Approval struct {
	By       string    `json:"by"`
	At       time.Time `json:"at"`
	Decision string    `json:"decision"` // "approved" or "rejected"
	Comment  string    `json:"comment"`
}

// Approvals are the decisions on a case that needs a quorum.
type Approvals []Approval

// Approved counts the approvals among the decisions.
func (as Approvals) Approved() int {
	n := 0
	for _, a := range as {
		if a.Decision == "approved" {
			n++
		}
	}
	return n
}

// DecidedBy reports whether the user has decided already: one person, one
// decision.
func (as Approvals) DecidedBy(user string) bool {
	return slices.ContainsFunc(as, func(a Approval) bool { return a.By == user })
}

// decide records an approve or reject action and returns the decision.
func (as *Approvals) decide(a Action, at time.Time) string {
	d := "approved"
	if a.Action == "reject" {
		d = "rejected"
	}
	*as = append(*as, Approval{By: a.Actor.ID, At: at, Decision: d, Comment: a.Comment})
	return d
}

// Action is the body of POST /{kind}/{id}/actions: the action's name and the
// fields any action may carry. Each action reads the fields it needs.
type Action struct {
	Action       string `json:"action"`
	Actor        Actor  `json:"actor"`
	Assignee     string `json:"assignee,omitempty"`
	Group        string `json:"group,omitempty"`
	Body         string `json:"body,omitempty"`
	Reason       string `json:"reason,omitempty"`
	Resolution   string `json:"resolution,omitempty"`
	Impact       string `json:"impact,omitempty"`
	Urgency      string `json:"urgency,omitempty"`
	Manager      string `json:"manager,omitempty"`
	Summary      string `json:"summary,omitempty"`
	Improvements string `json:"improvements,omitempty"`
	Comment      string `json:"comment,omitempty"`
	Kind         string `json:"kind,omitempty"`
	ID           string `json:"id,omitempty"`
	Relation     string `json:"relation,omitempty"`
	// Change assessment, schedule and outcome.
	Risk        string `json:"risk,omitempty"`
	Benefit     string `json:"benefit,omitempty"`
	Feasibility string `json:"feasibility,omitempty"`
	Cost        string `json:"cost,omitempty"`
	Security    string `json:"security,omitempty"`
	Start       string `json:"start,omitempty"`
	End         string `json:"end,omitempty"`
	Success     *bool  `json:"success,omitempty"`
	Notes       string `json:"notes,omitempty"`
	// Problem: the known error, and the RFC it raises.
	RootCause   string `json:"root_cause,omitempty"`
	Workaround  string `json:"workaround,omitempty"`
	NeedsChange *bool  `json:"needs_change,omitempty"`
	Type        string `json:"type,omitempty"`
	BackoutPlan string `json:"backout_plan,omitempty"`
	// Change: the design-and-transition plan, the CMDB updates a completion
	// writes, and the release a change plans.
	Plan               string                `json:"plan,omitempty"`
	AcceptanceCriteria []string              `json:"acceptance_criteria,omitempty"`
	RemovalPlan        string                `json:"removal_plan,omitempty"`
	CIUpdates          []activities.CIUpdate `json:"ci_updates,omitempty"`
	Title              string                `json:"title,omitempty"`
	Description        string                `json:"description,omitempty"`
	CIs                []string              `json:"cis,omitempty"`
	// AcceptConflicts schedules a change although other changes touch the
	// same or dependent CIs in an overlapping window; Conflicts lists them,
	// as the command layer found them, for the history.
	AcceptConflicts bool `json:"accept_conflicts,omitempty"`
	// Rules are the current change rules, which the command layer attaches
	// to plan_release and raise_rfc: a case that started before it had
	// rules of its own uses them.
	Rules     *policy.ChangeRules `json:"rules,omitempty"`
	Conflicts []string            `json:"conflicts,omitempty"`
	// Release: build, acceptance test and the decision on unmet criteria.
	Version string `json:"version,omitempty"`
	Results string `json:"results,omitempty"`
	Passed  *bool  `json:"passed,omitempty"`
	Accept  *bool  `json:"accept,omitempty"`
	// Suppliers: a contract amendment (with the review interval the command
	// layer parsed from it), a dispute's id, and a review's rating,
	// decisions and findings; audits record findings too.
	Contract    *SupplierContract `json:"contract,omitempty"`
	ReviewEvery time.Duration     `json:"review_every,omitempty"`
	Dispute     string            `json:"dispute,omitempty"`
	Rating      int               `json:"rating,omitempty"`
	Decisions   string            `json:"decisions,omitempty"`
	Findings    []Finding         `json:"findings,omitempty"`
	// Internal marks a comment as an internal note: mail on a case from
	// someone who is neither its caller nor staff is kept, but not as a
	// customer update.
	Internal bool `json:"internal,omitempty"`
	// Source names the channel the action came through (api, email, slack).
	Source string `json:"source,omitempty"`
}

// internalNote reports whether the action is an internal note that the
// email connector records for a sender who may not comment: anyone's mail
// on a case is kept, never dropped, and never shown as the caller's word.
func internalNote(a Action) bool {
	return a.Action == "comment" && a.Internal && a.Source == "email"
}

// inSlack copies a notification to Slack: approvers decide there, groups
// see their queue, callers confirm.
func inSlack(n activities.Note) activities.Note {
	n.Channel = "slack"
	return n
}

// notifyAll notifies each of to once by mail, and in Slack too when slack
// is set, leaving out the actor, who knows already.
func notifyAll(caseID, actor, event, text string, slack bool, to ...string) []activities.Note {
	var notes []activities.Note
	var seen []string
	for _, u := range to {
		if u == "" || u == actor || slices.Contains(seen, u) {
			continue
		}
		seen = append(seen, u)
		n := note(u, event, caseID, text)
		notes = append(notes, n)
		if slack {
			notes = append(notes, inSlack(n))
		}
	}
	return notes
}

// commentDetail is what a comment puts in the history.
func commentDetail(a Action, d map[string]any) {
	d["body"] = a.Body
	if a.Internal {
		d["internal"] = true
	}
}

// process is what the shared plumbing needs of a case workflow.
type process[R any] struct {
	record   func() R
	opened   func() bool
	validate func(Action) error
	apply    func(workflow.Context, Action) error
	// status is the case's current status, and transition records one
	// history entry: receiveSignals records a refused signal with them.
	status     func() string
	transition func(ctx workflow.Context, actor, action, from string, d map[string]any, notes []activities.Note) error
}

// registerHandlers installs what every case answers before it opens: the
// record query, the opened update (which waits for the opening to be
// projected) and the act update with its validator.
func registerHandlers[R any](ctx workflow.Context, p process[R]) error {
	if err := workflow.SetQueryHandler(ctx, QueryRecord, func() (R, error) { return p.record(), nil }); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandler(ctx, UpdateOpened, func(ctx workflow.Context) (R, error) {
		err := workflow.Await(ctx, p.opened)
		return p.record(), err
	}); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateAct,
		func(ctx workflow.Context, a Action) (R, error) {
			if err := p.apply(ctx, a); err != nil {
				var zero R
				return zero, err
			}
			return p.record(), nil
		},
		workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, a Action) error { return p.validate(a) }},
	)
}

// receiveSignals applies actions that arrive by signal, with the same
// checks as an update; a refusal is recorded, not dropped. It returns a
// report of whether no signal is being applied: AllHandlersFinished does not
// count this receiver, and a case that ended on a signalled action must
// still wait for that action's projection before its run completes.
func receiveSignals[R any](ctx workflow.Context, p process[R]) (idle func() bool) {
	busy := false
	signals := workflow.GetSignalChannel(ctx, SignalAct)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var a Action
			signals.Receive(ctx, &a)
			busy = true
			applySignalled(ctx, p, a)
			busy = false
		}
	})
	return func() bool { return !busy }
}

// applySignalled applies one action that came by signal, with the same
// checks as an update; a refusal is recorded, not dropped.
func applySignalled[R any](ctx workflow.Context, p process[R], a Action) {
	if err := p.validate(a); err != nil {
		_ = p.transition(ctx, a.Actor.ID, "refused", p.status(), detail("action", a.Action, "reason", err.Error(), "source", a.Source), nil)
		return
	}
	_ = p.apply(ctx, a)
}

// inStatus is the validators' status check: a 409 unless the case is in
// one of the statuses. noun names the kind in the message ("an incident").
func inStatus(status string, who Actor, action, noun string, statuses ...string) error {
	if !slices.Contains(statuses, status) {
		return conflict("%s cannot %s %s that is %s", who.ID, action, noun, status)
	}
	return nil
}

// checkComment and checkLink validate the two actions every kind takes.
func checkComment(a Action, id string, ended bool, status string) error {
	if ended {
		return conflict("%s is %s", id, status)
	}
	if a.Body == "" {
		return invalid("comment needs a body")
	}
	return nil
}

func checkLink(a Action) error {
	if a.Kind == "" || a.ID == "" || a.Relation == "" {
		return invalid("link needs kind, id and relation")
	}
	return nil
}

// applyLink adds the link an action carries and says so in the detail.
func applyLink(a Action, links *[]Link, d map[string]any) {
	*links = append(*links, Link{Kind: a.Kind, ID: a.ID, Relation: a.Relation})
	d["kind"], d["id"], d["relation"] = a.Kind, a.ID, a.Relation
}

// settle waits, before a case's run completes, until every update handler
// and the signal receiver have finished, so the last transition is in the
// database and its caller has an answer.
func settle(ctx workflow.Context, idle func() bool) error {
	return workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) && idle() })
}

// clock measures an SLA in the working time of a calendar, from Start,
// excluding the working time spent paused. Deadlines are derived values, so
// pause, resume and reclassify only change the inputs and re-plan.
type clock struct {
	Start    time.Time     `json:"start"`
	Paused   time.Duration `json:"paused"` // working time spent paused so far
	PausedAt *time.Time    `json:"paused_at,omitempty"`
}

// due is the instant at which target working time will have passed.
func (c clock) due(cal policy.Calendar, target time.Duration) time.Time {
	return cal.Add(c.Start, target+c.Paused)
}

func (c *clock) pause(now time.Time) {
	if c.PausedAt == nil {
		c.PausedAt = &now
	}
}

func (c *clock) resume(cal policy.Calendar, now time.Time) {
	if c.PausedAt != nil {
		c.Paused += cal.Elapsed(*c.PausedAt, now)
		c.PausedAt = nil
	}
}

func (c clock) paused() bool { return c.PausedAt != nil }

// journal numbers the transitions of a case and projects each one, with the
// record as it stands after it, through the Project local activity.
type journal struct {
	Seq int64
}

// Local activities: the projection is a short database write on the same
// worker, which saves the round trip through the task queue that an ordinary
// activity costs; it is retried until the database takes it.
func projectOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 24 * time.Hour,
		StartToCloseTimeout:    30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    100 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    30 * time.Second,
		},
	})
}

// longLocal is for the local activities a case cannot go on without (ids,
// CMDB writes, baselines, counts): retried for a day, like a projection,
// rather than given up after the SDK's default of one StartToClose.
func longLocal(ctx workflow.Context) workflow.Context {
	return projectOptions(ctx)
}

// record appends one transition: it numbers it, and projects the case row,
// the history entry and the notifications in one idempotent write.
func (j *journal) record(ctx workflow.Context, row activities.CaseRow, entry activities.Entry, notes []activities.Note) error {
	return j.recordWith(ctx, activities.ProjectInput{Case: row, Entry: entry, Notes: notes})
}

// recordWith is record for a transition that also writes a change's
// schedule entry or a problem's known error.
func (j *journal) recordWith(ctx workflow.Context, in activities.ProjectInput) error {
	j.Seq++
	in.Case.Seq = j.Seq
	in.Entry.Seq = j.Seq
	if in.Entry.At.IsZero() {
		in.Entry.At = workflow.Now(ctx).UTC()
	}
	if in.Schedule != nil {
		in.Schedule.Seq = j.Seq
	}
	if in.KnownError != nil {
		in.KnownError.Seq = j.Seq
	}
	var a *activities.Activities
	if err := workflow.ExecuteLocalActivity(projectOptions(ctx), a.Project, in).Get(ctx, nil); err != nil {
		return fmt.Errorf("project %s #%d: %w", in.Case.ID, j.Seq, err)
	}
	return nil
}

// marshalRecord renders a record for the case row. encoding/json orders map
// keys, so the bytes are the same on every replay.
func marshalRecord(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		// Records are plain structs; this cannot fail short of a programming error.
		panic(fmt.Sprintf("marshal record: %v", err))
	}
	return b
}

// detail builds a history entry's detail from key/value pairs, leaving out
// empty strings so the history says only what the action carried.
func detail(kv ...any) map[string]any {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := kv[i].(string)
		switch v := kv[i+1].(type) {
		case string:
			if v != "" {
				m[k] = v
			}
		case nil:
		default:
			m[k] = v
		}
	}
	return m
}

// runTimers is a case's main loop: it sleeps until the nearest deadline of
// the current plan, or until a transition changes the plan, and fires the
// deadline that is due. The plan is read again after waking, because a
// transition may have changed it while its projection was in flight (the
// revision moves only once the projection is written): a deadline that is
// no longer due, or no longer planned, does not fire.
func runTimers(ctx workflow.Context, w *wake, done func() bool, plan func() (time.Time, func(workflow.Context) error)) error {
	for !done() {
		next, _ := plan()
		due, err := w.sleepUntil(ctx, next)
		if err != nil {
			return err
		}
		if !due {
			continue
		}
		next, fire := plan()
		if next.IsZero() || next.After(workflow.Now(ctx)) {
			continue
		}
		if err := fire(ctx); err != nil {
			return err
		}
	}
	return nil
}

// wake is a monotonically increasing revision: handlers bump it after each
// transition, and the timer loop re-plans whenever it changes.
type wake struct{ rev int }

func (w *wake) bump() { w.rev++ }

// sleepUntil blocks until the deadline passes (true) or the revision moves on
// (false). A zero deadline waits for the revision alone.
func (w *wake) sleepUntil(ctx workflow.Context, deadline time.Time) (bool, error) {
	seen := w.rev
	changed := func() bool { return w.rev != seen }
	if deadline.IsZero() {
		return false, workflow.Await(ctx, changed)
	}
	d := deadline.Sub(workflow.Now(ctx))
	if d <= 0 {
		return true, nil
	}
	ok, err := workflow.AwaitWithTimeout(ctx, d, changed)
	return !ok, err
}
