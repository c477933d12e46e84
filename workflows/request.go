package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/policy"
)

// Service request statuses: recorded, checked against the catalogue,
// approved where the item needs it, fulfilled, closed (spec §2.10 (e)).
const (
	ReqLogged           = "logged"
	ReqAwaitingApproval = "awaiting_approval"
	ReqRejected         = "rejected"
	ReqAssigned         = "assigned"
	ReqFulfilling       = "fulfilling"
	ReqPending          = "pending"
	ReqFulfilled        = "fulfilled"
	ReqClosed           = "closed"
	ReqCancelled        = "cancelled"
)

// RequestInput starts a service request for one catalogue item.
type RequestInput struct {
	ID          string               `json:"id"`
	Num         int64                `json:"num"`
	Title       string               `json:"title"`
	Description string               `json:"description"`
	Service     string               `json:"service"`
	Caller      string               `json:"caller"`
	Actor       Actor                `json:"actor"`
	Source      string               `json:"source"`
	Policy      policy.RequestPolicy `json:"policy"`
}

// RequestSLA is the record's view of the fulfilment clocks; they start when
// the request may be worked on (at logging, or at approval).
type RequestSLA struct {
	ResponseDue   *time.Time `json:"response_due"`
	ResolutionDue *time.Time `json:"resolution_due"`
	RespondedAt   *time.Time `json:"responded_at"`
	Paused        bool       `json:"paused"`
	Warned        bool       `json:"warned"`
	Breached      []string   `json:"breached"`
}

// Request is the record of a service request.
type Request struct {
	ID          string     `json:"id"`
	Kind        string     `json:"kind"`
	Title       string     `json:"title"`
	Description string     `json:"description"`
	Status      string     `json:"status"`
	Item        string     `json:"item"`
	ItemName    string     `json:"item_name"`
	Service     string     `json:"service"`
	Assignee    string     `json:"assignee"`
	Group       string     `json:"group"`
	Caller      string     `json:"caller"`
	Approval    *Quorum    `json:"approval"`
	Approvals   Approvals  `json:"approvals"`
	Resolution  string     `json:"resolution"`
	FulfilledAt *time.Time `json:"fulfilled_at"`
	ClosedAt    *time.Time `json:"closed_at"`
	SLA         RequestSLA `json:"sla"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	CreatedBy   string     `json:"created_by"`
	WaitingFor  string     `json:"waiting_for"`
	Links       []Link     `json:"links"`
}

// Quorum is the approval a request or change needs.
type Quorum struct {
	Group  string `json:"group"`
	Quorum int    `json:"quorum"`
}

type request struct {
	rec      Request
	pol      policy.RequestPolicy
	num      int64
	journal  journal
	wake     wake
	clock    *clock // nil until the request may be worked on
	resumeTo string
	opened   bool
}

// RequestWorkflow runs one service request from logging to closure.
func RequestWorkflow(ctx workflow.Context, in RequestInput) error {
	now := workflow.Now(ctx).UTC()
	caller := in.Caller
	if caller == "" {
		caller = in.Actor.ID
	}
	w := &request{
		pol: in.Policy,
		num: in.Num,
		rec: Request{
			ID: in.ID, Kind: "requests", Title: in.Title, Description: in.Description,
			Status: ReqLogged, Item: in.Policy.Item.ID, ItemName: in.Policy.Item.Name,
			Service: in.Service, Group: in.Policy.Item.Group, Caller: caller,
			Approvals: Approvals{}, CreatedAt: now, UpdatedAt: now, CreatedBy: in.Actor.ID,
			Links: []Link{}, SLA: RequestSLA{Breached: []string{}},
		},
	}
	if ap := in.Policy.Item.Approval; ap != nil {
		w.rec.Approval = &Quorum{Group: ap.Group, Quorum: ap.Quorum}
		w.rec.Status = ReqAwaitingApproval
	} else {
		w.startClock(now)
	}
	w.plan()

	proc := process[Request]{
		record:     func() Request { return w.rec },
		opened:     func() bool { return w.opened },
		validate:   w.validate,
		apply:      w.apply,
		status:     func() string { return w.rec.Status },
		transition: w.transition,
	}
	if err := registerHandlers(ctx, proc); err != nil {
		return err
	}

	var notes []activities.Note
	if w.rec.Approval != nil {
		ask := activities.Note{Recipient: "group:" + w.rec.Approval.Group, Channel: "email", Event: "approval_requested",
			Subject: "[" + w.rec.ID + "] approval requested: " + w.rec.Title, Body: "approval requested: " + w.rec.Title}
		notes = append(notes, ask, inSlack(ask))
	}
	if err := w.transition(ctx, in.Actor.ID, "open", "", detail("source", in.Source, "item", w.rec.Item), notes); err != nil {
		return err
	}
	w.opened = true

	idle := receiveSignals(ctx, proc)

	ended := func() bool {
		return w.rec.Status == ReqClosed || w.rec.Status == ReqRejected || w.rec.Status == ReqCancelled
	}
	if err := runTimers(ctx, &w.wake, ended, w.nextTimer); err != nil {
		return err
	}
	return settle(ctx, idle)
}

func (w *request) startClock(now time.Time) {
	w.clock = &clock{Start: now}
}

func (w *request) plan() {
	if w.clock != nil {
		resp := w.clock.due(w.pol.Calendar, w.pol.Targets.Response).UTC()
		res := w.clock.due(w.pol.Calendar, w.pol.Targets.Resolution).UTC()
		w.rec.SLA.ResponseDue, w.rec.SLA.ResolutionDue = &resp, &res
		w.rec.SLA.Paused = w.clock.paused()
	}
	w.rec.WaitingFor = w.waitingFor()
}

func (w *request) waitingFor() string {
	r := w.rec
	who := r.Assignee
	if who == "" {
		who = r.Group
	}
	switch r.Status {
	case ReqAwaitingApproval:
		return fmt.Sprintf("approval by %s (%d of %d)", r.Approval.Group, r.Approvals.Approved(), r.Approval.Quorum)
	case ReqLogged, ReqAssigned:
		return fmt.Sprintf("first response by %s until %s", who, stamp(*r.SLA.ResponseDue))
	case ReqFulfilling:
		return fmt.Sprintf("fulfilment by %s until %s", who, stamp(*r.SLA.ResolutionDue))
	case ReqPending:
		return "resume: the SLA clocks are paused"
	case ReqFulfilled:
		return fmt.Sprintf("caller confirmation until %s", stamp(r.FulfilledAt.Add(w.pol.AutoCloseAfter)))
	}
	return ""
}

func (w *request) nextTimer() (time.Time, func(workflow.Context) error) {
	r := w.rec
	if r.Status == ReqFulfilled {
		return r.FulfilledAt.Add(w.pol.AutoCloseAfter), w.autoClose
	}
	if w.clock == nil || w.clock.paused() || r.Status == ReqAwaitingApproval {
		return time.Time{}, nil
	}
	at, fire := time.Time{}, func(workflow.Context) error { return nil }
	consider := func(t time.Time, f func(workflow.Context) error) {
		if at.IsZero() || t.Before(at) {
			at, fire = t, f
		}
	}
	if r.SLA.RespondedAt == nil && !slices.Contains(r.SLA.Breached, "response") {
		consider(*r.SLA.ResponseDue, func(ctx workflow.Context) error { return w.breach(ctx, "response") })
	}
	if !r.SLA.Warned {
		warnAt := w.clock.due(w.pol.Calendar, time.Duration(float64(w.pol.Targets.Resolution)*w.pol.Warning))
		consider(warnAt, w.warn)
	}
	if !slices.Contains(r.SLA.Breached, "resolution") {
		consider(*r.SLA.ResolutionDue, func(ctx workflow.Context) error { return w.breach(ctx, "resolution") })
	}
	return at, fire
}

func (w *request) transition(ctx workflow.Context, actor, action, from string, d map[string]any, notes []activities.Note) error {
	now := workflow.Now(ctx).UTC()
	w.rec.UpdatedAt = now
	w.plan()
	err := w.journal.record(ctx, w.row(), activities.Entry{
		At: now, Actor: actor, Action: action, From: from, To: w.rec.Status, Detail: d,
	}, notes)
	w.wake.bump()
	return err
}

func (w *request) row() activities.CaseRow {
	return activities.CaseRow{
		ID: w.rec.ID, Kind: w.rec.Kind, Num: w.num, Title: w.rec.Title, Status: w.rec.Status,
		Service: w.rec.Service, Assignee: w.rec.Assignee, Group: w.rec.Group,
		Breached: len(w.rec.SLA.Breached) > 0, CreatedBy: w.rec.CreatedBy, Caller: w.rec.Caller,
		CreatedAt: w.rec.CreatedAt, UpdatedAt: w.rec.UpdatedAt, Record: marshalRecord(w.rec),
	}
}

func (w *request) validate(a Action) error {
	who := a.Actor
	r := w.rec
	staff := who.Has(policy.RoleAgent, policy.RoleAdmin)
	raised := who.ID == r.Caller || who.ID == r.CreatedBy
	switch a.Action {
	case "approve", "reject":
		if r.Approval == nil {
			return conflict("%s needs no approval: %s is pre-approved", r.ID, r.ItemName)
		}
		if !who.InGroup(r.Approval.Group) {
			return forbidden("%s is not in the approving group of %s", who.ID, r.ID)
		}
		if raised {
			return forbidden("%s raised %s and may not decide on it", who.ID, r.ID)
		}
	case "comment", "confirm", "reopen", "cancel":
		if !internalNote(a) && !staff && !raised {
			return forbidden("%s may not %s %s", who.ID, a.Action, r.ID)
		}
	case "assign", "start", "pend", "resume", "fulfil", "link":
		if !staff {
			return forbidden("%s may not %s %s: it needs the agent role", who.ID, a.Action, r.ID)
		}
	default:
		return invalid("unknown action %q for a service request", a.Action)
	}
	within := func(statuses ...string) error { return inStatus(r.Status, who, a.Action, "a request", statuses...) }
	active := []string{ReqLogged, ReqAssigned, ReqFulfilling, ReqPending}
	switch a.Action {
	case "approve", "reject":
		if err := within(ReqAwaitingApproval); err != nil {
			return err
		}
		if r.Approvals.DecidedBy(who.ID) {
			return conflict("%s has already decided on %s", who.ID, r.ID)
		}
	case "assign":
		if err := within(active...); err != nil {
			return err
		}
		if a.Assignee == "" && a.Group == "" {
			return invalid("assign needs an assignee or a group")
		}
	case "start":
		return within(ReqLogged, ReqAssigned)
	case "pend":
		if err := within(ReqLogged, ReqAssigned, ReqFulfilling); err != nil {
			return err
		}
		if a.Reason == "" {
			return invalid("pend needs a reason")
		}
	case "resume":
		return within(ReqPending)
	case "fulfil":
		if err := within(active...); err != nil {
			return err
		}
		if a.Resolution == "" {
			return invalid("fulfil needs a resolution")
		}
	case "confirm":
		return within(ReqFulfilled)
	case "reopen":
		if err := within(ReqFulfilled); err != nil {
			return err
		}
		if a.Reason == "" {
			return invalid("reopen needs a reason")
		}
	case "cancel":
		if err := within(append(active, ReqAwaitingApproval)...); err != nil {
			return err
		}
		if a.Reason == "" {
			return invalid("cancel needs a reason")
		}
	case "comment":
		return checkComment(a, r.ID, r.Status == ReqClosed || r.Status == ReqRejected || r.Status == ReqCancelled, r.Status)
	case "link":
		return checkLink(a)
	}
	return nil
}

func (w *request) apply(ctx workflow.Context, a Action) error {
	now := workflow.Now(ctx).UTC()
	r := &w.rec
	from := r.Status
	d := detail("source", a.Source)
	var notes []activities.Note
	switch a.Action {
	case "approve", "reject":
		decision := r.Approvals.decide(a, now)
		d["comment"], d["decision"] = a.Comment, decision
		approved := r.Approvals.Approved()
		switch {
		case decision == "rejected":
			r.Status = ReqRejected
			r.ClosedAt = &now
			notes = append(notes, note(r.Caller, "rejected", r.ID, "your request was rejected: "+r.Title))
		case approved >= r.Approval.Quorum:
			r.Status = ReqLogged
			w.startClock(now)
		}
	case "assign":
		if a.Group != "" {
			r.Group, d["group"] = a.Group, a.Group
		}
		if a.Assignee != "" {
			r.Assignee, d["assignee"] = a.Assignee, a.Assignee
		}
		if r.Status == ReqLogged {
			r.Status = ReqAssigned
		}
	case "start":
		if r.SLA.RespondedAt == nil {
			r.SLA.RespondedAt = &now
		}
		if r.Assignee == "" {
			r.Assignee = a.Actor.ID
		}
		r.Status = ReqFulfilling
	case "pend":
		d["reason"] = a.Reason
		w.resumeTo = r.Status
		w.clock.pause(now)
		r.Status = ReqPending
	case "resume":
		w.clock.resume(w.pol.Calendar, now)
		r.Status = w.resumeTo
	case "fulfil":
		d["resolution"] = a.Resolution
		w.clock.resume(w.pol.Calendar, now)
		w.clock.pause(now)
		r.Resolution, r.FulfilledAt, r.Status = a.Resolution, &now, ReqFulfilled
		notes = append(notes, note(r.Caller, "fulfilled", r.ID, "your request is fulfilled: "+r.Title))
	case "confirm":
		r.ClosedAt, r.Status = &now, ReqClosed
	case "reopen":
		d["reason"] = a.Reason
		w.clock.resume(w.pol.Calendar, now)
		r.FulfilledAt, r.Resolution, r.Status = nil, "", ReqFulfilling
	case "cancel":
		d["reason"] = a.Reason
		r.ClosedAt, r.Status = &now, ReqCancelled
	case "comment":
		commentDetail(a, d)
	case "link":
		applyLink(a, &r.Links, d)
	}
	return w.transition(ctx, a.Actor.ID, a.Action, from, d, notes)
}

func (w *request) breach(ctx workflow.Context, target string) error {
	w.rec.SLA.Breached = append(w.rec.SLA.Breached, target)
	var notes []activities.Note
	m := w.pol.Managers[w.rec.Group]
	if m != "" {
		notes = append(notes, note(m, "escalation", w.rec.ID, w.rec.ID+" breached its "+target+" target: "+w.rec.Title))
	}
	return w.transition(ctx, systemActor.ID, "sla_breach", w.rec.Status, detail("target", target, "escalated_to", m), notes)
}

func (w *request) warn(ctx workflow.Context) error {
	w.rec.SLA.Warned = true
	var notes []activities.Note
	m := w.pol.Managers[w.rec.Group]
	if m != "" {
		notes = append(notes, note(m, "sla_warning", w.rec.ID, w.rec.ID+" will breach its fulfilment target at "+stamp(*w.rec.SLA.ResolutionDue)))
	}
	return w.transition(ctx, systemActor.ID, "sla_warning", w.rec.Status, detail("target", "resolution", "notified", m), notes)
}

func (w *request) autoClose(ctx workflow.Context) error {
	now := workflow.Now(ctx).UTC()
	w.rec.ClosedAt, w.rec.Status = &now, ReqClosed
	return w.transition(ctx, systemActor.ID, "auto_close", ReqFulfilled, detail("after", w.pol.AutoCloseAfter.String()), nil)
}
