package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/policy"
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
	Review         *Review     `json:"review"`
	ClosedAt       *time.Time  `json:"closed_at"`
	CreatedAt      time.Time   `json:"created_at"`
	UpdatedAt      time.Time   `json:"updated_at"`
	CreatedBy      string      `json:"created_by"`
	WaitingFor     string      `json:"waiting_for"`
	Links          []Link      `json:"links"`
}

type change struct {
	rec     Change
	num     int64
	journal journal
	opened  bool
}

// ChangeWorkflow runs one change from request to closure.
func ChangeWorkflow(ctx workflow.Context, in ChangeInput) error {
	now := workflow.Now(ctx).UTC()
	w := &change{num: in.Num, rec: Change{
		ID: in.ID, Kind: "changes", Title: in.Title, Description: in.Description, Status: ChgRequested,
		Type: in.Type, StandardChange: in.StandardChange, Services: orEmpty(in.Services), CIs: orEmpty(in.CIs),
		BackoutPlan: in.BackoutPlan, Approval: in.Approvers, Approvals: Approvals{},
		CreatedAt: now, UpdatedAt: now, CreatedBy: in.Actor.ID, Links: []Link{},
	}}
	d := detail("source", in.Source, "type", in.Type)
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
	}
	idle := receiveSignals(ctx, proc)

	if err := workflow.Await(ctx, func() bool { return w.rec.Status == ChgClosed || w.rec.Status == ChgRejected }); err != nil {
		return err
	}
	return settle(ctx, idle)
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
	return w.journal.record(ctx, activities.CaseRow{
		ID: w.rec.ID, Kind: w.rec.Kind, Num: w.num, Title: w.rec.Title, Status: w.rec.Status,
		Service: service, CreatedBy: w.rec.CreatedBy, CreatedAt: w.rec.CreatedAt, UpdatedAt: now,
		Record: marshalRecord(w.rec),
	}, activities.Entry{At: now, Actor: actor, Action: action, From: from, To: w.rec.Status, Detail: d}, notes)
}

func (w *change) waitingFor() string {
	r := w.rec
	switch r.Status {
	case ChgRequested:
		return "assessment"
	case ChgAssessed:
		return "submission for approval"
	case ChgAwaitingApproval:
		return fmt.Sprintf("approval by %s (%d of %d)", r.Approval.Group, w.rec.Approvals.Approved(), r.Approval.Quorum)
	case ChgApproved:
		return "scheduling"
	case ChgScheduled:
		return "implementation from " + stamp(r.Schedule.Start)
	case ChgImplementing:
		return "completion of the implementation"
	case ChgFailed:
		return "back-out or review"
	case ChgCompleted, ChgBackedOut:
		return "post-implementation review"
	case ChgReviewed:
		return "closure"
	}
	return ""
}

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
	case "assess", "submit", "schedule", "implement", "complete", "back_out":
		if !staff {
			return forbidden("%s may not %s %s: it needs the agent role", who.ID, a.Action, r.ID)
		}
	default:
		return invalid("unknown action %q for a change", a.Action)
	}
	within := func(statuses ...string) error { return inStatus(r.Status, who, a.Action, "a change", statuses...) }
	switch a.Action {
	case "assess":
		if err := within(ChgRequested, ChgAssessed); err != nil {
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
	case "submit":
		if r.Status == ChgRequested {
			return conflict("%s must be assessed before it is submitted", r.ID)
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
		if err := within(ChgApproved, ChgScheduled); err != nil {
			return err
		}
		start, end, err := window(a)
		if err != nil {
			return err
		}
		if !end.After(start) {
			return invalid("the window must end after it starts")
		}
	case "implement":
		return within(ChgApproved, ChgScheduled)
	case "complete":
		if err := within(ChgImplementing); err != nil {
			return err
		}
		if a.Success == nil {
			return invalid("complete needs success: true or false")
		}
	case "back_out":
		return within(ChgImplementing, ChgFailed)
	case "review":
		if err := within(ChgCompleted, ChgFailed, ChgBackedOut); err != nil {
			return err
		}
		if a.Summary == "" {
			return invalid("review needs a summary")
		}
	case "close":
		if r.Type == "standard" && r.Status == ChgCompleted {
			return nil
		}
		return within(ChgReviewed)
	case "comment":
		return checkComment(a, r.ID, r.Status == ChgClosed || r.Status == ChgRejected, r.Status)
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
		r.Status = ChgAssessed
	case "submit":
		r.Status = ChgAwaitingApproval
		notes = append(notes, note("group:"+r.Approval.Group, "approval_requested", r.ID, "approval requested: "+r.Title))
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
		r.Status = ChgScheduled
	case "implement":
		r.ImplementedAt = &now
		r.Status = ChgImplementing
	case "complete":
		r.Outcome = &Outcome{Success: *a.Success, Notes: a.Notes, By: a.Actor.ID, At: now}
		d["success"], d["notes"] = *a.Success, a.Notes
		r.Status = ChgFailed
		if *a.Success {
			r.Status = ChgCompleted
		}
	case "back_out":
		d["reason"] = a.Reason
		r.Status = ChgBackedOut
	case "review":
		r.Review = &Review{Summary: a.Summary, By: a.Actor.ID, At: now}
		d["summary"] = a.Summary
		r.Status = ChgReviewed
	case "close":
		r.ClosedAt = &now
		r.Status = ChgClosed
	case "comment":
		d["body"] = a.Body
	case "link":
		applyLink(a, &r.Links, d)
	}
	return w.transition(ctx, a.Actor.ID, a.Action, from, d, notes)
}
