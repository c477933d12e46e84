package workflows

import (
	"fmt"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/workflow"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/store"
)

// Change statuses (CONTRACT §2.3, spec §2.13).
const (
	ChgRequested        = "requested"
	ChgAssessed         = "assessed"
	ChgAwaitingApproval = "awaiting_approval"
	ChgApproved         = "approved"
	ChgRejected         = "rejected"
	ChgScheduled        = "scheduled"
	ChgImplementing     = "implementing"
	ChgCompleted        = "completed"
	ChgFailed           = "failed"
	ChgBackedOut        = "backed_out"
	ChgReviewed         = "reviewed"
	ChgClosed           = "closed"
)

// ChangeInput starts a change. Approvers is nil for a standard change,
// which is pre-approved by its change model.
type ChangeInput struct {
	ID             string   `json:"id"`
	Num            int64    `json:"num"`
	Title          string   `json:"title"`
	Description    string   `json:"description"`
	Type           string   `json:"type"`
	StandardChange string   `json:"standard_change"`
	Services       []string `json:"services"`
	CIs            []string `json:"cis"`
	BackoutPlan    string   `json:"backout_plan"`
	Actor          Actor    `json:"actor"`
	Source         string   `json:"source"`
	Approvers      *Quorum  `json:"approvers"`
	// ServiceAction is "removal" or "transfer" when the change removes or
	// transfers a service: always major-impact (spec §2.13), so it routes
	// to a design-and-transition plan (clause 5).
	ServiceAction string `json:"service_action,omitempty"`
	// CIUpdates are the CMDB updates the change plans; a successful
	// completion writes them.
	CIUpdates []activities.CIUpdate `json:"ci_updates,omitempty"`
	Rules     policy.ChangeRules    `json:"rules"`
}

// Names of the signals between a change and its releases.
const (
	// SignalReleaseState carries a release's status to its change.
	SignalReleaseState = "release_state"
	// SignalChangeState carries a change's status and window to its
	// releases, which deploy only inside the window.
	SignalChangeState = "change_state"
	// SignalChildOutcome carries an RFC's status to the problem that
	// raised it, whenever it ends one of its stages.
	SignalChildOutcome = "child_outcome"
)

// CaseState is a case's status as another case hears of it.
type CaseState struct {
	ID         string  `json:"id"`
	Status     string  `json:"status"`
	Success    bool    `json:"success,omitempty"`
	Window     *Window `json:"window,omitempty"`
	Deployed   bool    `json:"deployed,omitempty"`
	RolledBack bool    `json:"rolled_back,omitempty"`
}

// TransitionPlan is the design-and-transition plan of a major change or a
// service removal or transfer (spec §2.1, clause 5.2): the plan, the
// service acceptance criteria agreed beforehand and, for a removal, what
// happens to the service's data and CIs.
type TransitionPlan struct {
	Plan               string    `json:"plan"`
	AcceptanceCriteria []string  `json:"acceptance_criteria"`
	RemovalPlan        string    `json:"removal_plan,omitempty"`
	By                 string    `json:"by"`
	At                 time.Time `json:"at"`
}

// ReleaseRef is a release a change planned, with its last known status.
type ReleaseRef struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	// Deployed: the release went live and has not been rolled back.
	Deployed   bool `json:"deployed"`
	RolledBack bool `json:"rolled_back"`
}

// withdrawn: a release that ended without deploying (rejected, withdrawn,
// or closed undeployed) neither blocks nor counts.
func (r ReleaseRef) withdrawn() bool {
	return !r.Deployed && !r.RolledBack && (r.Status == RelRejected || r.Status == RelWithdrawn || r.Status == RelClosed)
}

// Assessment is what an approval decision rests on (spec §5.7: risk,
// impact, benefit, feasibility and cost are recorded for each decision).
type Assessment struct {
	Risk        string    `json:"risk"`
	Impact      string    `json:"impact"`
	Benefit     string    `json:"benefit"`
	Feasibility string    `json:"feasibility"`
	Cost        string    `json:"cost"`
	Security    string    `json:"security"`
	By          string    `json:"by"`
	At          time.Time `json:"at"`
}

// Window is when a change is scheduled to be implemented.
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Outcome is how an implementation ended.
type Outcome struct {
	Success bool      `json:"success"`
	Notes   string    `json:"notes"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
}

// Review is the post-implementation review.
type Review struct {
	Summary string    `json:"summary"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
}

// Change is the record of a request for change.
type Change struct {
	ID             string      `json:"id"`
	Kind           string      `json:"kind"`
	Title          string      `json:"title"`
	Description    string      `json:"description"`
	Status         string      `json:"status"`
	Type           string      `json:"type"`
	StandardChange string      `json:"standard_change"`
	Services       []string    `json:"services"`
	CIs            []string    `json:"cis"`
	BackoutPlan    string      `json:"backout_plan"`
	Assessment     *Assessment `json:"assessment"`
	Approval       *Quorum     `json:"approval"`
	Approvals      Approvals   `json:"approvals"`
	Schedule       *Window     `json:"schedule"`
	ImplementedAt  *time.Time  `json:"implemented_at"`
	Outcome        *Outcome    `json:"outcome"`
	// Remediation and Investigation follow a failed implementation
	// (spec §2.13: failed changes are reversed or remedied, and investigated).
	Remediation    *Review                 `json:"remediation,omitempty"`
	Investigation  *Review                 `json:"investigation,omitempty"`
	Review         *Review                 `json:"review"`
	ClosedAt       *time.Time              `json:"closed_at"`
	ServiceAction  string                  `json:"service_action,omitempty"`
	TransitionPlan *TransitionPlan         `json:"transition_plan,omitempty"`
	SubmittedAt    *time.Time              `json:"submitted_at,omitempty"`
	Escalation     int                     `json:"approval_escalation"`
	CIUpdates      []activities.CIUpdate   `json:"ci_updates"`
	CMDB           []activities.CIRevision `json:"cmdb"`
	Releases       []ReleaseRef            `json:"releases"`
	CreatedAt      time.Time               `json:"created_at"`
	UpdatedAt      time.Time               `json:"updated_at"`
	CreatedBy      string                  `json:"created_by"`
	WaitingFor     string                  `json:"waiting_for"`
	Links          []Link                  `json:"links"`
}

type change struct {
	rec     Change
	num     int64
	journal journal
	opened  bool
	rules   policy.ChangeRules
	wake    wake
	// escalate: the approval timeout is on (and this workflow's code knows it).
	escalate bool
	// tellParent: the parent problem hears of each outcome.
	tellParent bool
	// releaseOpened holds the releases that reported their opening.
	releaseOpened map[string]bool
}

// ChangeWorkflow runs one change from request to closure.
func ChangeWorkflow(ctx workflow.Context, in ChangeInput) error {
	now := workflow.Now(ctx).UTC()
	w := &change{num: in.Num, rec: Change{
		ID: in.ID, Kind: "changes", Title: in.Title, Description: in.Description, Status: ChgRequested,
		Type: in.Type, StandardChange: in.StandardChange, Services: orEmpty(in.Services), CIs: orEmpty(in.CIs),
		BackoutPlan: in.BackoutPlan, Approval: in.Approvers, Approvals: Approvals{},
		CreatedAt: now, UpdatedAt: now, CreatedBy: in.Actor.ID, Links: []Link{},
		ServiceAction: in.ServiceAction, CIUpdates: orEmptyUpdates(in.CIUpdates),
		CMDB: []activities.CIRevision{}, Releases: []ReleaseRef{},
	}, rules: in.Rules, releaseOpened: map[string]bool{}}
	d := detail("source", in.Source, "type", in.Type)
	// Cases started before these versions replay without the approval
	// timer and without telling their parent of outcomes.
	w.escalate = in.Rules.ApprovalTimeout > 0 && workflow.GetVersion(ctx, "approval-timeout", workflow.DefaultVersion, 1) == 1
	if in.ServiceAction != "" {
		d["service_action"] = in.ServiceAction
	}
	if in.Type == "standard" {
		// A standard change is pre-approved by its change model.
		w.rec.Status = ChgApproved
		d["pre_approved"] = in.StandardChange
	}
	proc := process[Change]{
		record:     func() Change { return w.rec },
		opened:     func() bool { return w.opened },
		validate:   w.validate,
		apply:      w.apply,
		status:     func() string { return w.rec.Status },
		transition: w.transition,
	}
	if err := registerHandlers(ctx, proc); err != nil {
		return err
	}
	if err := w.transition(ctx, in.Actor.ID, "open", "", d, nil); err != nil {
		return err
	}
	w.opened = true
	if parent := workflow.GetInfo(ctx).ParentWorkflowExecution; parent != nil &&
		workflow.GetVersion(ctx, "tell-parent-opened", workflow.DefaultVersion, 1) == 1 {
		// The problem that raised this RFC answers its caller only once the
		// change can be read.
		if err := workflow.SignalExternalWorkflow(ctx, parent.ID, "", SignalOpened, in.ID).Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("could not tell the parent case that the change opened", "parent", parent.ID, "error", err)
		}
		w.tellParent = workflow.GetVersion(ctx, "tell-parent-outcome", workflow.DefaultVersion, 1) == 1
	}
	idle := receiveSignals(ctx, proc)
	w.receiveReleases(ctx)

	ended := func() bool { return w.rec.Status == ChgClosed || w.rec.Status == ChgRejected }
	if err := runTimers(ctx, &w.wake, ended, w.plan); err != nil {
		return err
	}
	return settle(ctx, idle)
}

func orEmptyUpdates(u []activities.CIUpdate) []activities.CIUpdate {
	if u == nil {
		return []activities.CIUpdate{}
	}
	return u
}

// plan is the change's one deadline: a submitted change that still waits
// for its quorum after approval_timeout is escalated to the approving
// group's manager, and after twice that to top management.
func (w *change) plan() (time.Time, func(workflow.Context) error) {
	r := w.rec
	if !w.escalate || r.Status != ChgAwaitingApproval || r.SubmittedAt == nil || r.Escalation >= 2 {
		return time.Time{}, nil
	}
	due := r.SubmittedAt.Add(time.Duration(r.Escalation+1) * w.rules.ApprovalTimeout)
	return due, w.escalateApproval
}

func (w *change) escalateApproval(ctx workflow.Context) error {
	r := &w.rec
	r.Escalation++
	level := "manager"
	manager := w.rules.Managers[r.Approval.Group]
	to := []string{manager}
	if r.Escalation == 2 || manager == "" {
		level, to = "top_management", w.rules.TopManagement
	}
	var notes []activities.Note
	for _, u := range to {
		if u != "" {
			notes = append(notes, note(u, "approval_overdue", r.ID,
				fmt.Sprintf("%s has waited %s for approval by %s: %s", r.ID, time.Duration(r.Escalation)*w.rules.ApprovalTimeout, r.Approval.Group, r.Title)))
		}
	}
	d := detail("level", level, "to", slices.Clone(to), "waited", (time.Duration(r.Escalation) * w.rules.ApprovalTimeout).String())
	return w.transition(ctx, systemActor.ID, "approval_escalated", r.Status, d, notes)
}

// receiveReleases follows the releases this change planned: their opening
// (so plan_release answers once the release can be read) and each status
// they report.
func (w *change) receiveReleases(ctx workflow.Context) {
	opened := workflow.GetSignalChannel(ctx, SignalOpened)
	states := workflow.GetSignalChannel(ctx, SignalReleaseState)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var id string
			opened.Receive(ctx, &id)
			w.releaseOpened[id] = true
		}
	})
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var st CaseState
			states.Receive(ctx, &st)
			i := slices.IndexFunc(w.rec.Releases, func(r ReleaseRef) bool { return r.ID == st.ID })
			next := ReleaseRef{ID: st.ID, Status: st.Status, Deployed: st.Deployed, RolledBack: st.RolledBack}
			if i < 0 || w.rec.Releases[i] == next {
				continue
			}
			w.rec.Releases[i] = next
			_ = w.transition(ctx, systemActor.ID, "release_"+st.Status, w.rec.Status, detail("release", st.ID), nil)
		}
	})
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (w *change) transition(ctx workflow.Context, actor, action, from string, d map[string]any, notes []activities.Note) error {
	now := workflow.Now(ctx).UTC()
	w.rec.UpdatedAt = now
	w.rec.WaitingFor = w.waitingFor()
	service := ""
	if len(w.rec.Services) > 0 {
		service = w.rec.Services[0]
	}
	err := w.journal.recordWith(ctx, activities.ProjectInput{
		Case: activities.CaseRow{
			ID: w.rec.ID, Kind: w.rec.Kind, Num: w.num, Title: w.rec.Title, Status: w.rec.Status,
			Service: service, CreatedBy: w.rec.CreatedBy, CreatedAt: w.rec.CreatedAt, UpdatedAt: now,
			Record: marshalRecord(w.rec),
		},
		Entry:    activities.Entry{At: now, Actor: actor, Action: action, From: from, To: w.rec.Status, Detail: d},
		Notes:    notes,
		Schedule: w.scheduleEntry(),
	})
	w.wake.bump()
	// The releases hear a new window even when the status stays.
	if err != nil || (from == w.rec.Status && action != "schedule") {
		return err
	}
	w.tell(ctx)
	return nil
}

// scheduleEntry is the change's line in the change schedule, once it has a
// window.
func (w *change) scheduleEntry() *store.ScheduledChange {
	r := w.rec
	if r.Schedule == nil {
		return nil
	}
	return &store.ScheduledChange{ChangeID: r.ID, Title: r.Title, Type: r.Type, Status: r.Status,
		Start: r.Schedule.Start, End: r.Schedule.End, CIs: slices.Clone(r.CIs), Services: slices.Clone(r.Services)}
}

// tell reports a new status to the problem that raised the change and to
// the releases it planned. A case that has gone is not worth failing for.
func (w *change) tell(ctx workflow.Context) {
	st := CaseState{ID: w.rec.ID, Status: w.rec.Status, Window: w.rec.Schedule,
		Success: w.rec.Outcome != nil && w.rec.Outcome.Success}
	var targets []string
	if w.tellParent {
		targets = append(targets, workflow.GetInfo(ctx).ParentWorkflowExecution.ID)
	}
	for _, r := range w.rec.Releases {
		targets = append(targets, r.ID)
	}
	for _, id := range targets {
		name := SignalChangeState
		if w.tellParent && id == workflow.GetInfo(ctx).ParentWorkflowExecution.ID {
			name = SignalChildOutcome
		}
		if err := workflow.SignalExternalWorkflow(ctx, id, "", name, st).Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("could not tell a related case of a change's status", "case", id, "error", err)
		}
	}
}

func (w *change) waitingFor() string {
	r := w.rec
	switch r.Status {
	case ChgRequested:
		if w.needsTransitionPlan() && r.TransitionPlan == nil {
			return "assessment and a design-and-transition plan (plan_transition)"
		}
		return "assessment"
	case ChgAssessed:
		if w.needsTransitionPlan() && r.TransitionPlan == nil {
			return "a design-and-transition plan (plan_transition)"
		}
		return "submission for approval"
	case ChgAwaitingApproval:
		return fmt.Sprintf("approval by %s (%d of %d)", r.Approval.Group, w.rec.Approvals.Approved(), r.Approval.Quorum)
	case ChgApproved:
		return "scheduling"
	case ChgScheduled:
		return "implementation from " + stamp(r.Schedule.Start)
	case ChgImplementing:
		if id, _ := w.blockingRelease(); id != "" {
			return "deployment of " + id
		}
		return "completion of the implementation"
	case ChgFailed:
		if r.Remediation == nil {
			return "back-out or remediation"
		}
		if r.Investigation == nil {
			return "investigation of the failure"
		}
		return "post-implementation review"
	case ChgCompleted, ChgBackedOut:
		if r.Status == ChgBackedOut && r.Investigation == nil {
			return "investigation of the failure"
		}
		if r.Type == "emergency" {
			return "retrospective review"
		}
		return "post-implementation review"
	case ChgReviewed:
		return "closure"
	}
	return ""
}

// needsTransitionPlan: major changes and service removals and transfers go
// through design and transition (clause 5) before approval.
func (w *change) needsTransitionPlan() bool {
	return w.rec.Type == "major" || w.rec.ServiceAction != ""
}

// blockingRelease names a release that keeps the change from completing
// successfully: one still on its way, or one rolled back.
func (w *change) blockingRelease() (id, why string) {
	deployed := false
	for _, r := range w.rec.Releases {
		switch {
		case r.RolledBack:
			return r.ID, "was rolled back"
		case !r.Deployed && !r.withdrawn():
			return r.ID, "has not deployed"
		}
		deployed = deployed || r.Deployed
	}
	if n := len(w.rec.Releases); n > 0 && !deployed {
		return w.rec.Releases[n-1].ID, "ended without deploying, as did any other: plan another, or complete with success false"
	}
	return "", ""
}

// activeRelease reports whether a planned release may still deploy.
func (w *change) activeRelease() bool {
	return slices.ContainsFunc(w.rec.Releases, func(r ReleaseRef) bool { return !r.Deployed && !r.RolledBack && !r.withdrawn() })
}

func (w *change) ended() bool { return w.rec.Status == ChgClosed || w.rec.Status == ChgRejected }

func (w *change) validate(a Action) error {
	r := w.rec
	who := a.Actor
	staff := who.Has(policy.RoleAgent, policy.RoleAdmin)
	switch a.Action {
	case "approve", "reject":
		if who.ID == r.CreatedBy {
			return forbidden("%s requested %s and may not decide on it", who.ID, r.ID)
		}
		if r.Approval == nil {
			return conflict("%s is a standard change: it is pre-approved", r.ID)
		}
		if !who.InGroup(r.Approval.Group) {
			return forbidden("%s is not in %s, the approving group of %s", who.ID, r.Approval.Group, r.ID)
		}
	case "review":
		if !who.Has(policy.RoleProcessOwner, policy.RoleAdmin) {
			return forbidden("%s may not review %s: it needs the process_owner role", who.ID, r.ID)
		}
	case "close", "comment", "link":
		if !staff && !who.Has(policy.RoleProcessOwner) {
			return forbidden("%s may not %s %s", who.ID, a.Action, r.ID)
		}
	case "assess", "submit", "schedule", "implement", "complete", "back_out", "remediate", "investigate", "plan_transition", "plan_release":
		if !staff {
			return forbidden("%s may not %s %s: it needs the agent role", who.ID, a.Action, r.ID)
		}
	default:
		return invalid("unknown action %q for a change", a.Action)
	}
	within := func(statuses ...string) error { return inStatus(r.Status, who, a.Action, "a change", statuses...) }
	switch a.Action {
	case "assess":
		// An emergency change may be assessed after the fact, before its
		// retrospective review.
		if r.Type == "emergency" {
			if err := within(ChgRequested, ChgAssessed, ChgAwaitingApproval, ChgApproved, ChgScheduled, ChgImplementing, ChgCompleted, ChgFailed, ChgBackedOut); err != nil {
				return err
			}
		} else if err := within(ChgRequested, ChgAssessed); err != nil {
			return err
		}
		if !slices.Contains(policy.Levels(), a.Risk) {
			return invalid("risk %q is not one of high, medium, low", a.Risk)
		}
		for _, f := range []struct{ name, v string }{{"impact", a.Impact}, {"benefit", a.Benefit}, {"feasibility", a.Feasibility}, {"cost", a.Cost}} {
			if f.v == "" {
				return invalid("assess needs %s", f.name)
			}
		}
	case "plan_transition":
		if !w.needsTransitionPlan() {
			return conflict("%s is a %s change: design and transition is for major changes and service removals or transfers", r.ID, r.Type)
		}
		if err := within(ChgRequested, ChgAssessed); err != nil {
			return err
		}
		if a.Plan == "" || len(a.AcceptanceCriteria) == 0 {
			return invalid("plan_transition needs a plan and acceptance_criteria")
		}
		if r.ServiceAction == "removal" && a.RemovalPlan == "" {
			return invalid("a service removal needs a removal_plan: archiving, disposal or transfer of its data and CIs")
		}
	case "submit":
		if r.Status == ChgRequested && r.Type != "emergency" {
			return conflict("%s must be assessed before it is submitted", r.ID)
		}
		if w.needsTransitionPlan() && r.TransitionPlan == nil {
			return conflict("%s needs a design-and-transition plan with acceptance criteria before it is submitted", r.ID)
		}
		if r.Type == "emergency" {
			return within(ChgRequested, ChgAssessed)
		}
		return within(ChgAssessed)
	case "approve", "reject":
		if err := within(ChgAwaitingApproval); err != nil {
			return err
		}
		if r.Approvals.DecidedBy(who.ID) {
			return conflict("%s has already decided on %s", who.ID, r.ID)
		}
	case "schedule":
		// A change that implements may move the end of its window, which
		// its releases deploy in.
		if err := within(ChgApproved, ChgScheduled, ChgImplementing); err != nil {
			return err
		}
		start, end, err := window(a)
		if err != nil {
			return err
		}
		if !end.After(start) {
			return invalid("the window must end after it starts")
		}
		if b, ok := w.rules.BlackoutAt(start, end); ok && r.Type != "emergency" {
			return conflict("the window %s to %s falls in the blackout %q (%s to %s)", stamp(start), stamp(end), b.Name, stamp(b.Start), stamp(b.End))
		}
	case "plan_release":
		if err := within(ChgApproved, ChgScheduled, ChgImplementing); err != nil {
			return err
		}
		if a.Title == "" {
			return invalid("plan_release needs a title")
		}
		if len(a.AcceptanceCriteria) == 0 {
			return invalid("plan_release needs acceptance_criteria to test the release against")
		}
		if len(r.CIs) == 0 && len(a.CIs) == 0 {
			return invalid("plan_release needs the cis the release deploys to (the change names none)")
		}
	case "implement":
		if err := within(ChgApproved, ChgScheduled); err != nil {
			return err
		}
		if r.Schedule == nil && w.activeRelease() {
			return conflict("%s has a release, which deploys inside the change's window: schedule %s first", r.ID, r.ID)
		}
	case "complete":
		if err := within(ChgImplementing); err != nil {
			return err
		}
		if a.Success == nil {
			return invalid("complete needs success: true or false")
		}
		if *a.Success {
			if id, why := w.blockingRelease(); id != "" {
				return conflict("%s cannot complete successfully: its release %s %s", r.ID, id, why)
			}
		}
		for _, u := range a.CIUpdates {
			if u.ID == "" {
				return invalid("each of ci_updates needs an id")
			}
		}
	case "back_out":
		return within(ChgImplementing, ChgFailed)
	case "remediate":
		if err := within(ChgFailed); err != nil {
			return err
		}
		if a.Notes == "" {
			return invalid("remediate needs notes: what was fixed forward")
		}
	case "investigate":
		if err := within(ChgFailed, ChgBackedOut); err != nil {
			return err
		}
		if a.Summary == "" {
			return invalid("investigate needs a summary of why the change failed")
		}
	case "review":
		if err := within(ChgCompleted, ChgFailed, ChgBackedOut); err != nil {
			return err
		}
		if a.Summary == "" {
			return invalid("review needs a summary")
		}
		if r.Status == ChgFailed && r.Remediation == nil {
			return conflict("%s failed: back it out or remedy it before the review", r.ID)
		}
		if r.Status != ChgCompleted && r.Investigation == nil {
			return conflict("%s failed: record the investigation of the failure before the review", r.ID)
		}
		if r.Type == "emergency" && r.Assessment == nil {
			return conflict("%s is an emergency change: record its assessment before the retrospective review", r.ID)
		}
	case "close":
		if r.Type == "standard" && r.Status == ChgCompleted {
			return nil
		}
		return within(ChgReviewed)
	case "comment":
		return checkComment(a, r.ID, w.ended(), r.Status)
	case "link":
		return checkLink(a)
	}
	return nil
}

// window reads the schedule action's RFC 3339 times.
func window(a Action) (time.Time, time.Time, error) {
	start, err := time.Parse(time.RFC3339, a.Start)
	if err != nil {
		return time.Time{}, time.Time{}, invalid("start %q is not an RFC 3339 time", a.Start)
	}
	end, err := time.Parse(time.RFC3339, a.End)
	if err != nil {
		return time.Time{}, time.Time{}, invalid("end %q is not an RFC 3339 time", a.End)
	}
	return start.UTC(), end.UTC(), nil
}

func (w *change) apply(ctx workflow.Context, a Action) error {
	now := workflow.Now(ctx).UTC()
	r := &w.rec
	from := r.Status
	d := detail("source", a.Source)
	var notes []activities.Note
	switch a.Action {
	case "assess":
		r.Assessment = &Assessment{Risk: a.Risk, Impact: a.Impact, Benefit: a.Benefit, Feasibility: a.Feasibility,
			Cost: a.Cost, Security: a.Security, By: a.Actor.ID, At: now}
		d["risk"], d["impact"], d["benefit"], d["feasibility"], d["cost"], d["security"] = a.Risk, a.Impact, a.Benefit, a.Feasibility, a.Cost, a.Security
		if r.Status == ChgRequested {
			// An emergency change assessed after the fact keeps its status.
			r.Status = ChgAssessed
		}
	case "submit":
		r.Status, r.SubmittedAt = ChgAwaitingApproval, &now
		ask := note("group:"+r.Approval.Group, "approval_requested", r.ID, "approval requested: "+r.Title)
		notes = append(notes, ask, inSlack(ask))
	case "plan_transition":
		r.TransitionPlan = &TransitionPlan{Plan: a.Plan, AcceptanceCriteria: slices.Clone(a.AcceptanceCriteria),
			RemovalPlan: a.RemovalPlan, By: a.Actor.ID, At: now}
		d["plan"], d["acceptance_criteria"], d["removal_plan"] = a.Plan, slices.Clone(a.AcceptanceCriteria), a.RemovalPlan
	case "plan_release":
		id, err := w.planRelease(ctx, a)
		if err != nil {
			return err
		}
		r.Releases = append(r.Releases, ReleaseRef{ID: id, Status: RelPlanned})
		r.Links = append(r.Links, Link{Kind: "releases", ID: id, Relation: "release"})
		d["release"] = id
	case "approve", "reject":
		decision := r.Approvals.decide(a, now)
		d["decision"], d["comment"] = decision, a.Comment
		switch {
		case decision == "rejected":
			r.Status, r.ClosedAt = ChgRejected, &now
			notes = append(notes, note(r.CreatedBy, "rejected", r.ID, "your change was rejected: "+r.Title))
		case w.rec.Approvals.Approved() >= r.Approval.Quorum:
			r.Status = ChgApproved
			notes = append(notes, note(r.CreatedBy, "approved", r.ID, "your change is approved: "+r.Title))
		}
	case "schedule":
		start, end, _ := window(a)
		r.Schedule = &Window{Start: start, End: end}
		d["start"], d["end"] = stamp(start), stamp(end)
		if r.Status == ChgImplementing {
			d["rescheduled"] = true
		}
		if b, ok := w.rules.BlackoutAt(start, end); ok {
			d["blackout_override"] = b.Name
		}
		if c := a.Conflicts; len(c) > 0 {
			d["conflicts_accepted"] = slices.Clone(c)
		}
		if r.Status != ChgImplementing {
			r.Status = ChgScheduled
		}
	case "implement":
		if r.ImplementedAt == nil {
			r.ImplementedAt = &now
		}
		r.Status = ChgImplementing
	case "complete":
		// The CMDB is written before the change says it completed, so a
		// completed change has always updated the CMDB.
		if *a.Success {
			if err := w.updateCMDB(ctx, a, now); err != nil {
				return err
			}
		}
		r.Outcome = &Outcome{Success: *a.Success, Notes: a.Notes, By: a.Actor.ID, At: now}
		d["success"], d["notes"] = *a.Success, a.Notes
		r.Status = ChgFailed
		if *a.Success {
			r.Status = ChgCompleted
		}
		if err := w.transition(ctx, a.Actor.ID, a.Action, from, d, notes); err != nil {
			return err
		}
		if len(r.CMDB) == 0 {
			return nil
		}
		return w.transition(ctx, a.Actor.ID, "cmdb_updated", r.Status, detail("revisions", r.CMDB), nil)
	case "back_out":
		d["reason"] = a.Reason
		r.Status = ChgBackedOut
	case "remediate":
		r.Remediation = &Review{Summary: a.Notes, By: a.Actor.ID, At: now}
		d["notes"] = a.Notes
	case "investigate":
		r.Investigation = &Review{Summary: a.Summary, By: a.Actor.ID, At: now}
		d["summary"] = a.Summary
	case "review":
		r.Review = &Review{Summary: a.Summary, By: a.Actor.ID, At: now}
		d["summary"] = a.Summary
		if r.Type == "emergency" {
			d["retrospective"] = true
		}
		r.Status = ChgReviewed
	case "close":
		r.ClosedAt = &now
		r.Status = ChgClosed
	case "comment":
		commentDetail(a, d)
	case "link":
		applyLink(a, &r.Links, d)
	}
	return w.transition(ctx, a.Actor.ID, a.Action, from, d, notes)
}

// updateCMDB writes the CI updates of a successful change, the planned ones
// overlaid by those the completion carries, as new CI revisions that
// record the change (spec §2.13: Succeeded → CMDBUpdated).
func (w *change) updateCMDB(ctx workflow.Context, a Action, now time.Time) error {
	r := &w.rec
	updates := slices.Clone(r.CIUpdates)
	for _, u := range a.CIUpdates {
		if i := slices.IndexFunc(updates, func(p activities.CIUpdate) bool { return p.ID == u.ID }); i >= 0 {
			updates[i] = u
		} else {
			updates = append(updates, u)
		}
	}
	if len(updates) == 0 || workflow.GetVersion(ctx, "cmdb-update", workflow.DefaultVersion, 1) != 1 {
		return nil
	}
	var acts *activities.Activities
	var revs []activities.CIRevision
	err := workflow.ExecuteLocalActivity(longLocal(ctx), acts.WriteCIs, activities.CMDBWrite{
		ChangeID: r.ID, By: a.Actor.ID, At: now, Updates: updates,
	}).Get(ctx, &revs)
	if err != nil {
		return fmt.Errorf("update the CMDB for %s: %w", r.ID, err)
	}
	r.CMDB = revs
	return nil
}

// planRelease takes a release id and starts the release as a child
// workflow that outlives the change (abandon policy): the change waits for
// its deployment, and the release keeps its own record and review.
func (w *change) planRelease(ctx workflow.Context, a Action) (string, error) {
	var acts *activities.Activities
	var id activities.NewID
	if err := workflow.ExecuteLocalActivity(longLocal(ctx), acts.NextID, "releases", "REL").Get(ctx, &id); err != nil {
		return "", fmt.Errorf("take a release id: %w", err)
	}
	r := w.rec
	cis := a.CIs
	if len(cis) == 0 {
		cis = r.CIs
	}
	var problems []string
	for _, l := range r.Links {
		if l.Kind == "problems" {
			problems = append(problems, l.ID)
		}
	}
	if p := workflow.GetInfo(ctx).ParentWorkflowExecution; p != nil {
		problems = append(problems, p.ID)
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        id.ID,
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	child := workflow.ExecuteChildWorkflow(cctx, ReleaseWorkflow, ReleaseInput{
		ID: id.ID, Num: id.Num, Title: a.Title, Description: a.Description, Change: r.ID,
		ChangeStatus: r.Status, Window: r.Schedule, CIs: slices.Clone(cis), Services: slices.Clone(r.Services),
		Problems: problems, AcceptanceCriteria: slices.Clone(a.AcceptanceCriteria),
		Actor: a.Actor, Source: "change " + r.ID, Rules: releaseRules(w.rules, a),
	})
	if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		return "", fmt.Errorf("start %s: %w", id.ID, err)
	}
	if err := workflow.Await(ctx, func() bool { return w.releaseOpened[id.ID] }); err != nil {
		return "", err
	}
	return id.ID, nil
}

// releaseRules are the change's own, or, for a change that started before
// changes had rules, the current ones the command layer attached.
func releaseRules(own policy.ChangeRules, a Action) policy.ReleaseRules {
	if own.Release.Approvers.Group == "" && a.Rules != nil {
		return a.Rules.Release
	}
	return own.Release
}
