package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/policy"
)

// Release statuses (spec §2.14 (e)).
const (
	RelPlanned        = "planned"
	RelBuilt          = "built"
	RelCriteriaNotMet = "criteria_not_met"
	RelAccepted       = "accepted"
	RelApproved       = "approved"
	RelRejected       = "rejected"
	RelEarlyLife      = "early_life"
	RelDeployed       = "deployed"
	RelRolledBack     = "rolled_back"
	RelReviewed       = "reviewed"
	RelClosed         = "closed"
	// RelWithdrawn: the release will not deploy (its change failed or
	// took another way); the workflow ends.
	RelWithdrawn = "withdrawn"
)

// ReleaseInput starts a release. A release is planned by a change, which
// passes its own status and window: the release deploys only while the
// change is implementing, inside its window.
type ReleaseInput struct {
	ID                 string              `json:"id"`
	Num                int64               `json:"num"`
	Title              string              `json:"title"`
	Description        string              `json:"description"`
	Change             string              `json:"change"`
	ChangeStatus       string              `json:"change_status"`
	Window             *Window             `json:"window"`
	CIs                []string            `json:"cis"`
	Services           []string            `json:"services"`
	Problems           []string            `json:"problems"`
	AcceptanceCriteria []string            `json:"acceptance_criteria"`
	Actor              Actor               `json:"actor"`
	Source             string              `json:"source"`
	Rules              policy.ReleaseRules `json:"rules"`
}

// Build is what was built for a release.
type Build struct {
	Version string    `json:"version"`
	Notes   string    `json:"notes"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
}

// AcceptanceTest is one run of the acceptance test against the recorded
// criteria.
type AcceptanceTest struct {
	Passed  bool      `json:"passed"`
	Results string    `json:"results"`
	Version string    `json:"version"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
}

// Decision is the interested parties' decision on a release whose
// acceptance criteria were not met.
type Decision struct {
	Accept  bool      `json:"accept"`
	Comment string    `json:"comment"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
}

// Deployment is when and by whom a release went live, and how its early
// life went.
type Deployment struct {
	By             string     `json:"by"`
	At             time.Time  `json:"at"`
	EarlyLifeUntil time.Time  `json:"early_life_until"`
	Incidents      *int64     `json:"incidents"` // counted when early life ends
	RolledBackAt   *time.Time `json:"rolled_back_at,omitempty"`
	RollbackReason string     `json:"rollback_reason,omitempty"`
}

// Release is the record of a release.
type Release struct {
	ID                 string               `json:"id"`
	Kind               string               `json:"kind"`
	Title              string               `json:"title"`
	Description        string               `json:"description"`
	Status             string               `json:"status"`
	Change             string               `json:"change"`
	ChangeStatus       string               `json:"change_status"`
	Window             *Window              `json:"window"`
	CIs                []string             `json:"cis"`
	Services           []string             `json:"services"`
	Problems           []string             `json:"problems"`
	AcceptanceCriteria []string             `json:"acceptance_criteria"`
	Builds             []Build              `json:"builds"`
	Tests              []AcceptanceTest     `json:"tests"`
	Decision           *Decision            `json:"decision"`
	Approval           Quorum               `json:"approval"`
	Approvals          Approvals            `json:"approvals"`
	Baseline           *activities.Baseline `json:"baseline"`
	Deployment         *Deployment          `json:"deployment"`
	Review             *Review              `json:"review"`
	ClosedAt           *time.Time           `json:"closed_at"`
	CreatedAt          time.Time            `json:"created_at"`
	UpdatedAt          time.Time            `json:"updated_at"`
	CreatedBy          string               `json:"created_by"`
	WaitingFor         string               `json:"waiting_for"`
	Links              []Link               `json:"links"`
}

type release struct {
	rec     Release
	num     int64
	rules   policy.ReleaseRules
	journal journal
	opened  bool
	wake    wake
}

// ReleaseWorkflow runs one release from planning through build, acceptance
// test, approval, a baseline and deployment inside its change's window,
// early-life support, and review to closure, or to a rollback.
func ReleaseWorkflow(ctx workflow.Context, in ReleaseInput) error {
	now := workflow.Now(ctx).UTC()
	w := &release{num: in.Num, rules: in.Rules, rec: Release{
		ID: in.ID, Kind: "releases", Title: in.Title, Description: in.Description, Status: RelPlanned,
		Change: in.Change, ChangeStatus: in.ChangeStatus, Window: in.Window, CIs: orEmpty(in.CIs),
		Services: orEmpty(in.Services), Problems: orEmpty(in.Problems), AcceptanceCriteria: orEmpty(in.AcceptanceCriteria),
		Builds: []Build{}, Tests: []AcceptanceTest{}, Approval: Quorum{Group: in.Rules.Approvers.Group, Quorum: in.Rules.Approvers.Quorum},
		Approvals: Approvals{}, CreatedAt: now, UpdatedAt: now, CreatedBy: in.Actor.ID, Links: []Link{},
	}}
	if in.Change != "" {
		w.rec.Links = append(w.rec.Links, Link{Kind: "changes", ID: in.Change, Relation: "change"})
	}
	for _, p := range in.Problems {
		w.rec.Links = append(w.rec.Links, Link{Kind: "problems", ID: p, Relation: "resolves"})
	}
	proc := process[Release]{
		record: func() Release { return w.rec },
		opened: func() bool { return w.opened },
		// Deployment is checked against the change's window at the time of
		// asking.
		validate:   func(a Action) error { return w.validate(workflow.Now(ctx).UTC(), a) },
		apply:      w.apply,
		status:     func() string { return w.rec.Status },
		transition: w.transition,
	}
	if err := registerHandlers(ctx, proc); err != nil {
		return err
	}
	if err := w.transition(ctx, in.Actor.ID, "open", "", detail("source", in.Source, "change", in.Change), nil); err != nil {
		return err
	}
	w.opened = true
	if parent := workflow.GetInfo(ctx).ParentWorkflowExecution; parent != nil {
		if err := workflow.SignalExternalWorkflow(ctx, parent.ID, "", SignalOpened, in.ID).Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("could not tell the change that the release opened", "change", parent.ID, "error", err)
		}
	}
	idle := receiveSignals(ctx, proc)
	changes := workflow.GetSignalChannel(ctx, SignalChangeState)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var st CaseState
			changes.Receive(ctx, &st)
			if st.Status == w.rec.ChangeStatus && sameWindow(st.Window, w.rec.Window) {
				continue
			}
			w.rec.ChangeStatus, w.rec.Window = st.Status, st.Window
			d := detail("change", st.ID, "change_status", st.Status)
			if st.Window != nil {
				d["start"], d["end"] = stamp(st.Window.Start), stamp(st.Window.End)
			}
			_ = w.transition(ctx, systemActor.ID, "change_"+st.Status, w.rec.Status, d, nil)
		}
	})
	ended := func() bool { return w.rec.Status == RelClosed || w.rec.Status == RelWithdrawn }
	if err := runTimers(ctx, &w.wake, ended, w.plan); err != nil {
		return err
	}
	return settle(ctx, idle)
}

// plan is the release's one deadline: the end of early-life support.
func (w *release) plan() (time.Time, func(workflow.Context) error) {
	d := w.rec.Deployment
	if w.rec.Status != RelEarlyLife || d == nil {
		return time.Time{}, nil
	}
	return d.EarlyLifeUntil, w.endEarlyLife
}

// endEarlyLife counts the incidents logged on the release's services while
// it was in early life (spec §2.14: measure release-related incidents).
func (w *release) endEarlyLife(ctx workflow.Context) error {
	r := &w.rec
	var n int64
	var acts *activities.Activities
	err := workflow.ExecuteLocalActivity(longLocal(ctx), acts.CountIncidents, activities.IncidentCount{
		CIs: r.CIs, Services: r.Services, From: r.Deployment.At, To: r.Deployment.EarlyLifeUntil,
	}).Get(ctx, &n)
	d := detail()
	if err != nil {
		// Early life ends on time even when the count cannot be had; the
		// record says so instead of a number.
		d["count_error"] = err.Error()
	} else {
		r.Deployment.Incidents = &n
		d["incidents"] = n
	}
	from := r.Status
	r.Status = RelDeployed
	return w.transition(ctx, systemActor.ID, "early_life_ended", from, d, nil)
}

func (w *release) transition(ctx workflow.Context, actor, action, from string, d map[string]any, notes []activities.Note) error {
	now := workflow.Now(ctx).UTC()
	w.rec.UpdatedAt = now
	w.rec.WaitingFor = w.waitingFor()
	service := ""
	if len(w.rec.Services) > 0 {
		service = w.rec.Services[0]
	}
	err := w.journal.record(ctx, activities.CaseRow{
		ID: w.rec.ID, Kind: w.rec.Kind, Num: w.num, Title: w.rec.Title, Status: w.rec.Status,
		Service: service, CreatedBy: w.rec.CreatedBy, CreatedAt: w.rec.CreatedAt, UpdatedAt: now,
		Record: marshalRecord(w.rec),
	}, activities.Entry{At: now, Actor: actor, Action: action, From: from, To: w.rec.Status, Detail: d}, notes)
	w.wake.bump()
	if err != nil || from == "" || from == w.rec.Status || w.rec.Change == "" ||
		w.rec.ChangeStatus == ChgClosed || w.rec.ChangeStatus == ChgRejected {
		return err
	}
	// The change waits for its release's deployment.
	dep := w.rec.Deployment
	st := CaseState{ID: w.rec.ID, Status: w.rec.Status, Deployed: dep != nil && dep.RolledBackAt == nil, RolledBack: dep != nil && dep.RolledBackAt != nil}
	if err := workflow.SignalExternalWorkflow(ctx, w.rec.Change, "", SignalReleaseState, st).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("could not tell the change of the release's status", "change", w.rec.Change, "error", err)
	}
	return nil
}

func (w *release) waitingFor() string {
	r := w.rec
	switch r.Status {
	case RelPlanned:
		return "build"
	case RelBuilt:
		return "acceptance test"
	case RelCriteriaNotMet:
		return "a decision on the unmet acceptance criteria, or a new build"
	case RelAccepted:
		return fmt.Sprintf("approval by %s (%d of %d)", r.Approval.Group, r.Approvals.Approved(), r.Approval.Quorum)
	case RelApproved:
		if r.Window == nil {
			return "deployment, once " + r.Change + " is scheduled"
		}
		return fmt.Sprintf("deployment in the window of %s (%s to %s)", r.Change, stamp(r.Window.Start), stamp(r.Window.End))
	case RelEarlyLife:
		return "early-life support until " + stamp(r.Deployment.EarlyLifeUntil)
	case RelDeployed, RelRolledBack:
		return "review"
	case RelReviewed, RelRejected:
		return "closure"
	}
	return ""
}

func (w *release) validate(now time.Time, a Action) error {
	r := w.rec
	who := a.Actor
	staff := who.Has(policy.RoleAgent, policy.RoleAdmin)
	switch a.Action {
	case "approve", "reject":
		if who.ID == r.CreatedBy {
			return forbidden("%s planned %s and may not decide on it", who.ID, r.ID)
		}
		if !who.InGroup(r.Approval.Group) {
			return forbidden("%s is not in %s, the approving group of %s", who.ID, r.Approval.Group, r.ID)
		}
	case "review", "decide":
		if !who.Has(policy.RoleProcessOwner, policy.RoleAdmin) {
			return forbidden("%s may not %s %s: it needs the process_owner role", who.ID, a.Action, r.ID)
		}
	case "close", "comment", "link":
		if !staff && !who.Has(policy.RoleProcessOwner) {
			return forbidden("%s may not %s %s", who.ID, a.Action, r.ID)
		}
	case "build", "test", "deploy", "rollback", "withdraw":
		if !staff {
			return forbidden("%s may not %s %s: it needs the agent role", who.ID, a.Action, r.ID)
		}
	default:
		return invalid("unknown action %q for a release", a.Action)
	}
	within := func(statuses ...string) error { return inStatus(r.Status, who, a.Action, "a release", statuses...) }
	switch a.Action {
	case "build":
		if err := within(RelPlanned, RelBuilt, RelCriteriaNotMet); err != nil {
			return err
		}
		if a.Version == "" {
			return invalid("build needs the version built")
		}
	case "test":
		if err := within(RelBuilt); err != nil {
			return err
		}
		if a.Passed == nil || a.Results == "" {
			return invalid("test needs passed: true or false and the results against the acceptance criteria")
		}
	case "decide":
		if err := within(RelCriteriaNotMet); err != nil {
			return err
		}
		if a.Accept == nil || a.Comment == "" {
			return invalid("decide needs accept: true or false and a comment")
		}
	case "approve", "reject":
		if err := within(RelAccepted); err != nil {
			return err
		}
		if r.Approvals.DecidedBy(who.ID) {
			return conflict("%s has already decided on %s", who.ID, r.ID)
		}
	case "deploy":
		if err := within(RelApproved); err != nil {
			return err
		}
		if r.ChangeStatus != ChgImplementing {
			return conflict("%s deploys while %s is implementing; it is %s", r.ID, r.Change, r.ChangeStatus)
		}
		if r.Window == nil {
			return conflict("%s has no window yet: schedule it before deploying %s", r.Change, r.ID)
		}
		if !inWindow(now, r.Window) {
			return conflict("%s deploys inside the window of %s, %s to %s", r.ID, r.Change, stamp(r.Window.Start), stamp(r.Window.End))
		}
	case "withdraw":
		if err := within(RelPlanned, RelBuilt, RelCriteriaNotMet, RelAccepted, RelApproved); err != nil {
			return err
		}
		if a.Reason == "" {
			return invalid("withdraw needs a reason")
		}
	case "rollback":
		if err := within(RelEarlyLife, RelDeployed); err != nil {
			return err
		}
		if a.Reason == "" {
			return invalid("rollback needs a reason")
		}
	case "review":
		if err := within(RelDeployed, RelRolledBack); err != nil {
			return err
		}
		if a.Summary == "" {
			return invalid("review needs a summary")
		}
	case "close":
		return within(RelReviewed, RelRejected)
	case "comment":
		return checkComment(a, r.ID, r.Status == RelClosed, r.Status)
	case "link":
		return checkLink(a)
	}
	return nil
}

func (w *release) apply(ctx workflow.Context, a Action) error {
	now := workflow.Now(ctx).UTC()
	r := &w.rec
	from := r.Status
	d := detail("source", a.Source)
	var notes []activities.Note
	switch a.Action {
	case "build":
		r.Builds = append(r.Builds, Build{Version: a.Version, Notes: a.Notes, By: a.Actor.ID, At: now})
		d["version"], d["notes"] = a.Version, a.Notes
		r.Status = RelBuilt
	case "test":
		t := AcceptanceTest{Passed: *a.Passed, Results: a.Results, By: a.Actor.ID, At: now}
		if n := len(r.Builds); n > 0 {
			t.Version = r.Builds[n-1].Version
		}
		r.Tests = append(r.Tests, t)
		d["passed"], d["results"], d["version"] = t.Passed, t.Results, t.Version
		r.Status = RelCriteriaNotMet
		if t.Passed {
			r.Status = RelAccepted
			ask := note("group:"+r.Approval.Group, "approval_requested", r.ID, "release approval requested: "+r.Title)
			notes = append(notes, ask, inSlack(ask))
		}
	case "decide":
		r.Decision = &Decision{Accept: *a.Accept, Comment: a.Comment, By: a.Actor.ID, At: now}
		d["accept"], d["comment"] = *a.Accept, a.Comment
		r.Status = RelBuilt
		if *a.Accept {
			r.Status = RelAccepted
			ask := note("group:"+r.Approval.Group, "approval_requested", r.ID, "release approval requested: "+r.Title)
			notes = append(notes, ask, inSlack(ask))
		}
	case "approve", "reject":
		decision := r.Approvals.decide(a, now)
		d["decision"], d["comment"] = decision, a.Comment
		switch {
		case decision == "rejected":
			r.Status = RelRejected
		case r.Approvals.Approved() >= r.Approval.Quorum:
			r.Status = RelApproved
		}
	case "deploy":
		// A baseline of the affected CIs is taken before the release goes
		// live (spec §2.12), so a rollback knows what to return to.
		var b activities.Baseline
		var acts *activities.Activities
		err := workflow.ExecuteLocalActivity(longLocal(ctx), acts.TakeBaseline, activities.BaselineInput{
			Name: r.ID + " pre-deployment", Release: r.ID, CIs: r.CIs, By: a.Actor.ID, At: now,
		}).Get(ctx, &b)
		if err != nil {
			return fmt.Errorf("baseline before deploying %s: %w", r.ID, err)
		}
		r.Baseline = &b
		r.Deployment = &Deployment{By: a.Actor.ID, At: now, EarlyLifeUntil: now.Add(w.rules.EarlyLife)}
		d["baseline"], d["early_life_until"] = b.Name, stamp(r.Deployment.EarlyLifeUntil)
		r.Status = RelEarlyLife
	case "withdraw":
		d["reason"] = a.Reason
		r.ClosedAt = &now
		r.Status = RelWithdrawn
	case "rollback":
		r.Deployment.RolledBackAt, r.Deployment.RollbackReason = &now, a.Reason
		d["reason"] = a.Reason
		r.Status = RelRolledBack
	case "review":
		r.Review = &Review{Summary: a.Summary, By: a.Actor.ID, At: now}
		d["summary"] = a.Summary
		r.Status = RelReviewed
	case "close":
		r.ClosedAt = &now
		r.Status = RelClosed
	case "comment":
		commentDetail(a, d)
	case "link":
		applyLink(a, &r.Links, d)
	}
	return w.transition(ctx, a.Actor.ID, a.Action, from, d, notes)
}

func sameWindow(a, b *Window) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Start.Equal(b.Start) && a.End.Equal(b.End)
}

func inWindow(t time.Time, w *Window) bool {
	return w != nil && !t.Before(w.Start) && t.Before(w.End)
}
