package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/policy"
)

// Incident statuses (CONTRACT §2.2).
const (
	StatusLogged     = "logged"
	StatusAssigned   = "assigned"
	StatusInProgress = "in_progress"
	StatusPending    = "pending"
	StatusResolved   = "resolved"
	StatusClosed     = "closed"
)

// IncidentInput starts an incident. The policy is a copy of the
// configuration at the time of logging: a case keeps the rules it started
// under.
type IncidentInput struct {
	ID          string                `json:"id"`
	Num         int64                 `json:"num"`
	Title       string                `json:"title"`
	Description string                `json:"description"`
	Service     string                `json:"service"`
	Impact      string                `json:"impact"`
	Urgency     string                `json:"urgency"`
	Caller      string                `json:"caller"`
	Group       string                `json:"group"` // first-line group; defaults to the first of the functional path
	Actor       Actor                 `json:"actor"`
	Source      string                `json:"source"`
	Policy      policy.IncidentPolicy `json:"policy"`
}

// IncidentSLA is the record's view of the two clocks.
type IncidentSLA struct {
	ResponseDue   time.Time  `json:"response_due"`
	ResolutionDue time.Time  `json:"resolution_due"`
	RespondedAt   *time.Time `json:"responded_at"`
	Paused        bool       `json:"paused"`
	Warned        bool       `json:"warned"`
	Breached      []string   `json:"breached"`
}

// MajorReview is the review a major incident needs before it may close.
type MajorReview struct {
	By           string    `json:"by"`
	At           time.Time `json:"at"`
	Summary      string    `json:"summary"`
	Improvements string    `json:"improvements"`
}

// Incident is the record of an incident, as the API shows it.
type Incident struct {
	ID                string       `json:"id"`
	Kind              string       `json:"kind"`
	Title             string       `json:"title"`
	Description       string       `json:"description"`
	Status            string       `json:"status"`
	Service           string       `json:"service"`
	Impact            string       `json:"impact"`
	Urgency           string       `json:"urgency"`
	Priority          string       `json:"priority"`
	Assignee          string       `json:"assignee"`
	Group             string       `json:"group"`
	EscalationLevel   int          `json:"escalation_level"`
	HierarchicalLevel int          `json:"hierarchical_level"`
	Major             bool         `json:"major"`
	MajorManager      string       `json:"major_manager"`
	MajorReview       *MajorReview `json:"major_review"`
	Caller            string       `json:"caller"`
	Resolution        string       `json:"resolution"`
	ResolvedAt        *time.Time   `json:"resolved_at"`
	ClosedAt          *time.Time   `json:"closed_at"`
	SLA               IncidentSLA  `json:"sla"`
	CreatedAt         time.Time    `json:"created_at"`
	UpdatedAt         time.Time    `json:"updated_at"`
	CreatedBy         string       `json:"created_by"`
	WaitingFor        string       `json:"waiting_for"`
	Links             []Link       `json:"links"`
}

// incident is the workflow's state: the record and what the timers need.
type incident struct {
	rec     Incident
	pol     policy.IncidentPolicy
	num     int64
	journal journal
	wake    wake
	clock   clock
	// resumeTo is the status a pending incident returns to.
	resumeTo string
	// functionalSteps counts the response-target escalations so far.
	functionalSteps int
	opened          bool
}

// IncidentWorkflow runs one incident from logging to closure.
func IncidentWorkflow(ctx workflow.Context, in IncidentInput) error {
	now := workflow.Now(ctx).UTC()
	priority, err := in.Policy.Matrix.Priority(in.Impact, in.Urgency)
	if err != nil {
		return invalid("%v", err)
	}
	group := in.Group
	if group == "" && len(in.Policy.Functional) > 0 {
		group = in.Policy.Functional[0]
	}
	caller := in.Caller
	if caller == "" {
		caller = in.Actor.ID
	}
	w := &incident{
		pol:   in.Policy,
		num:   in.Num,
		clock: clock{Start: now},
		rec: Incident{
			ID: in.ID, Kind: "incidents", Title: in.Title, Description: in.Description,
			Status: StatusLogged, Service: in.Service, Impact: in.Impact, Urgency: in.Urgency,
			Priority: priority, Group: group, Caller: caller, CreatedAt: now, UpdatedAt: now,
			CreatedBy: in.Actor.ID, Links: []Link{}, SLA: IncidentSLA{Breached: []string{}},
		},
	}
	w.plan()

	proc := process[Incident]{
		record:     func() Incident { return w.rec },
		opened:     func() bool { return w.opened },
		validate:   w.validate,
		apply:      w.apply,
		status:     func() string { return w.rec.Status },
		transition: w.transition,
	}
	if err := registerHandlers(ctx, proc); err != nil {
		return err
	}

	var opened []activities.Note
	if in.Source == "email" {
		// Mail gets an acknowledgement that carries the case's tag, so the
		// caller's replies thread.
		opened = append(opened, activities.Note{Recipient: in.Caller, Channel: "email", Event: "opened",
			Subject: "[" + in.ID + "] received: " + in.Title,
			Body:    "We have logged your incident as " + in.ID + " (priority " + priority + "). Reply to this mail to add to it."})
	}
	if err := w.transition(ctx, in.Actor.ID, "open", "", detail("source", in.Source, "priority", priority, "group", group), opened); err != nil {
		return err
	}
	w.opened = true

	idle := receiveSignals(ctx, proc)

	if err := runTimers(ctx, &w.wake, func() bool { return w.rec.Status == StatusClosed }, w.nextTimer); err != nil {
		return err
	}
	// Let in-flight updates answer before the run ends.
	return settle(ctx, idle)
}

func (w *incident) targets() policy.TargetTimes { return w.pol.Targets[w.rec.Priority] }

// plan recomputes the due times from the clock; the record shows them.
func (w *incident) plan() {
	t := w.targets()
	w.rec.SLA.ResponseDue = w.clock.due(w.pol.Calendar, t.Response).UTC()
	w.rec.SLA.ResolutionDue = w.clock.due(w.pol.Calendar, t.Resolution).UTC()
	w.rec.SLA.Paused = w.clock.paused()
	w.rec.WaitingFor = w.waitingFor()
}

func (w *incident) warnAt() time.Time {
	t := w.targets()
	return w.clock.due(w.pol.Calendar, time.Duration(float64(t.Resolution)*w.pol.Warning)).UTC()
}

func (w *incident) topManagementAt() time.Time {
	t := w.targets()
	after := w.pol.TopManagementAfter
	if after <= 0 {
		after = t.Resolution
	}
	return w.clock.due(w.pol.Calendar, t.Resolution+after).UTC()
}

// nextResponseEscalation is when the response clock escalates next: at the
// response target, then again each response target later while nobody has
// started work and the functional path goes on.
func (w *incident) nextResponseEscalation() time.Time {
	t := w.targets()
	return w.clock.due(w.pol.Calendar, t.Response*time.Duration(w.functionalSteps+1)).UTC()
}

func (w *incident) open() bool {
	return w.rec.Status != StatusResolved && w.rec.Status != StatusClosed
}

// nextTimer picks the earliest pending deadline and what to do when it
// passes. A zero time means nothing is pending: wait for an action.
func (w *incident) nextTimer() (time.Time, func(workflow.Context) error) {
	type candidate struct {
		at   time.Time
		fire func(workflow.Context) error
	}
	var cs []candidate
	if w.rec.Status == StatusResolved {
		if !w.rec.Major || w.rec.MajorReview != nil {
			cs = append(cs, candidate{w.rec.ResolvedAt.Add(w.pol.AutoCloseAfter), w.autoClose})
		}
	} else if w.open() && !w.clock.paused() {
		// The response clock records its breach once, and escalates one group
		// per response target while the functional path goes on.
		responseOwed := !slices.Contains(w.rec.SLA.Breached, "response") || w.nextGroup() != ""
		if w.rec.SLA.RespondedAt == nil && responseOwed {
			cs = append(cs, candidate{w.nextResponseEscalation(), w.responseBreach})
		}
		if !w.rec.SLA.Warned {
			cs = append(cs, candidate{w.warnAt(), w.warn})
		}
		switch w.rec.HierarchicalLevel {
		case 0:
			cs = append(cs, candidate{w.rec.SLA.ResolutionDue, w.resolutionBreach})
		case 1:
			cs = append(cs, candidate{w.topManagementAt(), w.escalateToTopManagement})
		}
	}
	if len(cs) == 0 {
		return time.Time{}, nil
	}
	best := cs[0]
	for _, c := range cs[1:] {
		if c.at.Before(best.at) {
			best = c
		}
	}
	return best.at, best.fire
}

// transition records the current record with one history entry.
func (w *incident) transition(ctx workflow.Context, actor, action, from string, d map[string]any, notes []activities.Note) error {
	now := workflow.Now(ctx).UTC()
	w.rec.UpdatedAt = now
	w.plan()
	err := w.journal.record(ctx, w.row(), activities.Entry{
		At: now, Actor: actor, Action: action, From: from, To: w.rec.Status, Detail: d,
	}, notes)
	w.wake.bump()
	return err
}

func (w *incident) row() activities.CaseRow {
	return activities.CaseRow{
		ID: w.rec.ID, Kind: w.rec.Kind, Num: w.num, Title: w.rec.Title, Status: w.rec.Status,
		Priority: w.rec.Priority, Service: w.rec.Service, Assignee: w.rec.Assignee, Group: w.rec.Group,
		Major: w.rec.Major, Breached: len(w.rec.SLA.Breached) > 0, CreatedBy: w.rec.CreatedBy,
		Caller: w.rec.Caller, CreatedAt: w.rec.CreatedAt, UpdatedAt: w.rec.UpdatedAt,
		Record: marshalRecord(w.rec),
	}
}

func (w *incident) waitingFor() string {
	r := w.rec
	who := r.Assignee
	if who == "" {
		who = r.Group
	}
	switch r.Status {
	case StatusLogged:
		return fmt.Sprintf("assignment and first response by %s until %s", r.Group, stamp(r.SLA.ResponseDue))
	case StatusAssigned:
		return fmt.Sprintf("first response by %s until %s", who, stamp(r.SLA.ResponseDue))
	case StatusInProgress:
		return fmt.Sprintf("resolution by %s until %s", who, stamp(r.SLA.ResolutionDue))
	case StatusPending:
		return "resume: the SLA clocks are paused"
	case StatusResolved:
		if r.Major && r.MajorReview == nil {
			return fmt.Sprintf("major incident review by %s", r.MajorManager)
		}
		if r.ResolvedAt == nil {
			return "caller confirmation"
		}
		return fmt.Sprintf("caller confirmation until %s", stamp(r.ResolvedAt.Add(w.pol.AutoCloseAfter)))
	}
	return ""
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// raisedBy reports whether the actor raised the incident (caller or logger).
func (w *incident) raisedBy(a Actor) bool {
	return a.ID == w.rec.Caller || a.ID == w.rec.CreatedBy
}

// validate is the update validator: it rejects an action before it enters
// the history, with the error type the API turns into 403, 409 or 422.
func (w *incident) validate(a Action) error {
	who := a.Actor
	r := w.rec
	staff := who.Has(policy.RoleAgent, policy.RoleAdmin)
	switch a.Action {
	case "comment", "confirm", "reopen":
		if !internalNote(a) && !staff && !(who.Has(policy.RoleProcessOwner) && a.Action == "comment") && !w.raisedBy(who) {
			return forbidden("%s may not %s %s", who.ID, a.Action, r.ID)
		}
	case "review_major", "link":
		if !staff && !who.Has(policy.RoleProcessOwner) {
			return forbidden("%s may not %s %s", who.ID, a.Action, r.ID)
		}
	case "assign", "start", "pend", "resume", "resolve", "reclassify", "escalate", "declare_major":
		if !staff {
			return forbidden("%s may not %s %s: it needs the agent role", who.ID, a.Action, r.ID)
		}
	default:
		return invalid("unknown action %q for an incident", a.Action)
	}

	notClosed := func() error {
		if r.Status == StatusClosed {
			return conflict("%s is closed", r.ID)
		}
		return nil
	}
	within := func(statuses ...string) error { return inStatus(r.Status, who, a.Action, "an incident", statuses...) }
	switch a.Action {
	case "assign":
		if err := within(StatusLogged, StatusAssigned, StatusInProgress, StatusPending); err != nil {
			return err
		}
		if a.Assignee == "" && a.Group == "" {
			return invalid("assign needs an assignee or a group")
		}
	case "start":
		return within(StatusLogged, StatusAssigned)
	case "comment":
		return checkComment(a, r.ID, r.Status == StatusClosed, r.Status)
	case "pend":
		if err := within(StatusLogged, StatusAssigned, StatusInProgress); err != nil {
			return err
		}
		if a.Reason == "" {
			return invalid("pend needs a reason")
		}
	case "resume":
		return within(StatusPending)
	case "resolve":
		if err := within(StatusLogged, StatusAssigned, StatusInProgress, StatusPending); err != nil {
			return err
		}
		if a.Resolution == "" {
			return invalid("resolve needs a resolution")
		}
	case "confirm":
		if err := within(StatusResolved); err != nil {
			return err
		}
		if r.Major && r.MajorReview == nil {
			return conflict("%s is a major incident: it closes only after review_major", r.ID)
		}
	case "reopen":
		if err := within(StatusResolved); err != nil {
			return err
		}
		if a.Reason == "" {
			return invalid("reopen needs a reason")
		}
	case "reclassify":
		if err := within(StatusLogged, StatusAssigned, StatusInProgress, StatusPending); err != nil {
			return err
		}
		if _, err := w.pol.Matrix.Priority(a.Impact, a.Urgency); err != nil {
			return invalid("%v", err)
		}
	case "escalate":
		if err := within(StatusLogged, StatusAssigned, StatusInProgress, StatusPending); err != nil {
			return err
		}
		if w.nextGroup() == "" {
			return conflict("%s is already with %s, the last group of the escalation path", r.ID, r.Group)
		}
	case "declare_major":
		if err := notClosed(); err != nil {
			return err
		}
		if r.Major {
			return conflict("%s is already a major incident", r.ID)
		}
		if a.Manager == "" {
			return invalid("declare_major needs a manager")
		}
	case "review_major":
		if !r.Major {
			return conflict("%s is not a major incident", r.ID)
		}
		if err := within(StatusResolved); err != nil {
			return err
		}
		if r.MajorReview != nil {
			return conflict("%s has been reviewed already", r.ID)
		}
		if a.Summary == "" {
			return invalid("review_major needs a summary")
		}
	case "link":
		if err := checkLink(a); err != nil {
			return err
		}
		if a.ID == r.ID {
			return invalid("an incident cannot link to itself")
		}
		for _, l := range r.Links {
			if l.Kind == a.Kind && l.ID == a.ID && l.Relation == a.Relation {
				return conflict("%s is already linked to %s as %s", r.ID, a.ID, a.Relation)
			}
		}
	}
	return nil
}

// nextGroup is the group after the current one on the functional path, or
// "" at its end. A group off the path escalates to the path's second step.
func (w *incident) nextGroup() string {
	path := w.pol.Functional
	i := slices.Index(path, w.rec.Group)
	if i+1 < len(path) {
		if i < 0 && len(path) > 1 {
			return path[1]
		}
		return path[i+1]
	}
	return ""
}

// apply carries out a validated action and records it.
func (w *incident) apply(ctx workflow.Context, a Action) error {
	now := workflow.Now(ctx).UTC()
	r := &w.rec
	from := r.Status
	var notes []activities.Note
	d := detail("source", a.Source)
	switch a.Action {
	case "assign":
		if a.Group != "" {
			d["group"] = a.Group
			r.Group = a.Group
			notes = append(notes, inSlack(note("group:"+a.Group, "assigned", r.ID, "assigned to "+a.Group+": "+r.Title)))
		}
		if a.Assignee != "" {
			d["assignee"] = a.Assignee
			r.Assignee = a.Assignee
			notes = append(notes, note(a.Assignee, "assigned", r.ID, "assigned to you: "+r.Title))
		}
		if r.Status == StatusLogged {
			r.Status = StatusAssigned
		}
	case "start":
		if r.SLA.RespondedAt == nil {
			r.SLA.RespondedAt = &now
		}
		if r.Assignee == "" {
			r.Assignee = a.Actor.ID
		}
		r.Status = StatusInProgress
	case "comment":
		commentDetail(a, d)
	case "pend":
		d["reason"] = a.Reason
		w.resumeTo = r.Status
		w.clock.pause(now)
		r.Status = StatusPending
	case "resume":
		w.clock.resume(w.pol.Calendar, now)
		r.Status = w.resumeTo
		if r.Status == "" || r.Status == StatusPending {
			r.Status = StatusInProgress
		}
	case "resolve":
		d["resolution"] = a.Resolution
		w.clock.resume(w.pol.Calendar, now)
		// Time with the caller for confirmation does not count against
		// the resolution target; a reopen restarts the clock from here.
		w.clock.pause(now)
		r.Resolution = a.Resolution
		r.ResolvedAt = &now
		r.Status = StatusResolved
		// The caller confirms or reopens, by the API, chat, or a reply to
		// this notice.
		notes = append(notes, inSlack(note(r.Caller, "resolved", r.ID, "resolved: "+r.Title+": "+a.Resolution)))
		notes = append(notes, activities.Note{Recipient: r.Caller, Channel: "email", Event: "resolved",
			Subject: "[" + r.ID + "] resolved: " + r.Title,
			Body:    "Your incident " + r.ID + " is resolved: " + a.Resolution + "\n\nReply \"confirm\" if it is fixed, or \"reopen\" if it is not. 解決していれば「確認」、解決していなければ「再開」と返信してください。"})
		if r.Major {
			notes = append(notes, note(r.MajorManager, "major_restored", r.ID, "major incident restored, review due: "+r.Title))
		}
	case "confirm":
		r.ClosedAt = &now
		r.Status = StatusClosed
	case "reopen":
		d["reason"] = a.Reason
		w.clock.resume(w.pol.Calendar, now)
		r.ResolvedAt = nil
		r.Resolution = ""
		r.Status = StatusInProgress
	case "reclassify":
		p, _ := w.pol.Matrix.Priority(a.Impact, a.Urgency)
		d["from_priority"], d["to_priority"] = r.Priority, p
		d["impact"], d["urgency"] = a.Impact, a.Urgency
		if a.Reason != "" {
			d["reason"] = a.Reason
		}
		r.Impact, r.Urgency, r.Priority = a.Impact, a.Urgency, p
		// The warning is owed again if the new plan puts it in the future.
		if r.SLA.Warned && w.warnAt().After(now) {
			r.SLA.Warned = false
		}
		if r.HierarchicalLevel == 0 || w.clock.due(w.pol.Calendar, w.targets().Resolution).After(now) {
			r.HierarchicalLevel = 0
		}
	case "escalate":
		d["reason"] = a.Reason
		w.escalateFunctionally(d, &notes)
	case "declare_major":
		r.Major = true
		r.MajorManager = a.Manager
		d["manager"] = a.Manager
		notes = append(notes, note(a.Manager, "major_declared", r.ID, "you manage major incident "+r.ID+": "+r.Title))
		for _, u := range w.pol.TopManagement {
			notes = append(notes, note(u, "major_declared", r.ID, "major incident declared: "+r.Title+"; manager "+a.Manager))
		}
		d["notified"] = slices.Clone(w.pol.TopManagement)
	case "review_major":
		r.MajorReview = &MajorReview{By: a.Actor.ID, At: now, Summary: a.Summary, Improvements: a.Improvements}
		d["summary"], d["improvements"] = a.Summary, a.Improvements
	case "link":
		applyLink(a, &r.Links, d)
	}
	if r.Major && (r.Status != from || a.Action == "declare_major" || a.Action == "review_major") {
		// Every status change of a major incident goes to its thread in
		// the major-incident channel.
		notes = append(notes, inSlack(note("channel:major_incidents", "major_update", r.ID, a.Action+" → "+r.Status+": "+r.Title)))
	}
	return w.transition(ctx, a.Actor.ID, a.Action, from, d, notes)
}

func (w *incident) escalateFunctionally(d map[string]any, notes *[]activities.Note) {
	r := &w.rec
	next := w.nextGroup()
	if next == "" {
		return
	}
	d["from_group"], d["to_group"] = r.Group, next
	r.Group = next
	r.Assignee = ""
	r.EscalationLevel++
	d["level"] = r.EscalationLevel
	if m := w.pol.Managers[next]; m != "" {
		*notes = append(*notes, note(m, "escalation", r.ID, "escalated to "+next+": "+r.Title))
	}
	*notes = append(*notes, inSlack(note("group:"+next, "escalation", r.ID, "escalated to "+next+": "+r.Title)))
}

func (w *incident) breach(target string) {
	if !slices.Contains(w.rec.SLA.Breached, target) {
		w.rec.SLA.Breached = append(w.rec.SLA.Breached, target)
	}
}

// responseBreach fires when the response target passes with nobody started:
// the breach is recorded once, and the incident moves down the functional
// path, one group per response target.
func (w *incident) responseBreach(ctx workflow.Context) error {
	w.functionalSteps++
	w.breach("response")
	var notes []activities.Note
	d := detail("target", "response", "due", stamp(w.rec.SLA.ResponseDue))
	w.escalateFunctionally(d, &notes)
	return w.transition(ctx, systemActor.ID, "sla_breach", w.rec.Status, d, notes)
}

// warn is the early warning of an impending resolution breach, to the
// manager of the group that holds the incident.
func (w *incident) warn(ctx workflow.Context) error {
	w.rec.SLA.Warned = true
	var notes []activities.Note
	m := w.pol.Managers[w.rec.Group]
	if m != "" {
		notes = append(notes, note(m, "sla_warning", w.rec.ID,
			fmt.Sprintf("%s will breach its resolution target at %s", w.rec.ID, stamp(w.rec.SLA.ResolutionDue))))
	}
	return w.transition(ctx, systemActor.ID, "sla_warning", w.rec.Status,
		detail("target", "resolution", "due", stamp(w.rec.SLA.ResolutionDue), "notified", m), notes)
}

// resolutionBreach escalates hierarchically: to the group's manager now, to
// top management if the incident is still open later.
func (w *incident) resolutionBreach(ctx workflow.Context) error {
	w.breach("resolution")
	w.rec.HierarchicalLevel = 1
	var notes []activities.Note
	m := w.pol.Managers[w.rec.Group]
	if m != "" {
		notes = append(notes, note(m, "escalation", w.rec.ID, w.rec.ID+" breached its resolution target: "+w.rec.Title))
	}
	return w.transition(ctx, systemActor.ID, "sla_breach", w.rec.Status,
		detail("target", "resolution", "due", stamp(w.rec.SLA.ResolutionDue), "escalated_to", m, "level", 1), notes)
}

func (w *incident) escalateToTopManagement(ctx workflow.Context) error {
	w.rec.HierarchicalLevel = 2
	var notes []activities.Note
	for _, u := range w.pol.TopManagement {
		notes = append(notes, note(u, "escalation", w.rec.ID, w.rec.ID+" is still unresolved long past its target: "+w.rec.Title))
	}
	return w.transition(ctx, systemActor.ID, "escalate_hierarchical", w.rec.Status,
		detail("escalated_to", slices.Clone(w.pol.TopManagement), "level", 2), notes)
}

func (w *incident) autoClose(ctx workflow.Context) error {
	now := workflow.Now(ctx).UTC()
	w.rec.ClosedAt = &now
	w.rec.Status = StatusClosed
	return w.transition(ctx, systemActor.ID, "auto_close", StatusResolved,
		detail("after", w.pol.AutoCloseAfter.String()), nil)
}

func note(to, event, id, text string) activities.Note {
	return activities.Note{Recipient: to, Channel: "email", Event: event, Subject: "[" + id + "] " + text, Body: text}
}
