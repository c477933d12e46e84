package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/policy"
)

// Complaint statuses (spec §2.8 (e), clause 7.1: record, investigate, act
// on, report and close every complaint).
//
//	received ─record─▶ recorded ─investigate─▶ investigating ─act─▶ actioned
//	actioned ─report─▶ reported ─accept─▶ reported (accepted) ─close─▶ closed
//	reported ─dispute─▶ investigating (the cycle starts again)
//	reported ─(ResponseWait without an answer)─▶ closed
//
// The escalation route runs beside the statuses: a complaint not actioned
// ActionWithin after it was received (or disputed) goes to the service
// owner and the manager, and EscalateAfter later to top management; staff
// may escalate by hand at any time before it closes.
const (
	// CmpReceived: the complaint arrived (API, email, chat) and is not yet
	// recorded (spec: Received).
	CmpReceived = "received"
	// CmpRecorded: it is classified: service, severity, category.
	CmpRecorded = "recorded"
	// CmpInvestigating: someone investigates it; a disputed outcome comes
	// back here.
	CmpInvestigating = "investigating"
	// CmpActioned: the action taken is recorded (spec: ActionTaken).
	CmpActioned = "actioned"
	// CmpReported: the outcome was reported to the complainant, who
	// accepts or disputes it.
	CmpReported = "reported"
	// CmpClosed: accepted and closed, or closed without an answer after
	// ResponseWait.
	CmpClosed = "closed"
)

// ComplaintSeverities are the severities a complaint is recorded with.
var ComplaintSeverities = []string{"low", "medium", "high"}

// Answers of the complainant to a report.
const (
	CmpAccepted = "accepted"
	CmpDisputed = "disputed"
)

// ComplaintRules are what one complaint needs of the configuration, copied
// in when it is received (a case keeps the rules it started under).
type ComplaintRules struct {
	// ActionWithin: a complaint not actioned this long after it was
	// received, or after its outcome was disputed, escalates to the service
	// owner and the manager. Zero: no escalation by time.
	ActionWithin time.Duration `json:"action_within,omitempty"`
	// EscalateAfter: a complaint still not actioned this long after that
	// first escalation goes to top management. Zero: never (the first level
	// alone hears).
	EscalateAfter time.Duration `json:"escalate_after,omitempty"`
	// ResponseWait: a report the complainant has not answered this long
	// after it was sent closes the complaint by itself. Zero: no automatic
	// close, and staff may close a reported complaint at once.
	ResponseWait time.Duration `json:"response_wait,omitempty"`
	// ServiceOwners maps each service to its owner, who hears of an
	// escalated complaint about it, together with Manager (the manager of
	// complaint handling). With neither, the first escalation goes
	// straight to top management.
	ServiceOwners map[string]string `json:"service_owners,omitempty"`
	Manager       string            `json:"manager,omitempty"`
	// TopManagement hears of a complaint escalated a second time.
	TopManagement []string `json:"top_management,omitempty"`
	// ProcessOwner is the owner of business relationship management: told
	// of each complaint received and each disputed outcome.
	ProcessOwner string `json:"process_owner,omitempty"`
}

// firstLevel is who hears of a complaint about the service first: its
// service owner and the manager, each once.
func (rs ComplaintRules) firstLevel(service string) []string {
	var to []string
	for _, u := range []string{rs.ServiceOwners[service], rs.Manager} {
		if u != "" && !slices.Contains(to, u) {
			to = append(to, u)
		}
	}
	return to
}

// ComplaintInput receives a complaint (CMP-).
type ComplaintInput struct {
	ID          string `json:"id"`
	Num         int64  `json:"num"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Service     string `json:"service,omitempty"`
	// Caller is the complainant when someone else (the service desk) logs
	// the complaint for them; empty, the actor complains.
	Caller string `json:"caller,omitempty"`
	Actor  Actor  `json:"actor"`
	// Source is the channel it came through (api, email, slack).
	Source string         `json:"source,omitempty"`
	Rules  ComplaintRules `json:"rules"`
}

// ComplaintReport is one report of the outcome to the complainant, with
// their answer.
type ComplaintReport struct {
	Summary string    `json:"summary"`
	By      string    `json:"by"`
	At      time.Time `json:"at"`
	// Response is "", "accepted" or "disputed"; Reason is why it was
	// disputed.
	Response    string     `json:"response,omitempty"`
	Reason      string     `json:"reason,omitempty"`
	RespondedAt *time.Time `json:"responded_at,omitempty"`
}

// ComplaintEscalation is one step up the escalation route.
type ComplaintEscalation struct {
	// Level is "manager" (the service owner and the manager) or
	// "top_management".
	Level  string    `json:"level"`
	To     []string  `json:"to"`
	Reason string    `json:"reason,omitempty"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}

// Complaint is the record of one complaint.
type Complaint struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Status      string `json:"status"`
	Service     string `json:"service"`
	Source      string `json:"source"`
	Complainant string `json:"complainant"`
	// Severity (low, medium, high) and Category are the classification.
	Severity   string     `json:"severity"`
	Category   string     `json:"category"`
	RecordedBy string     `json:"recorded_by"`
	RecordedAt *time.Time `json:"recorded_at"`
	// Handler investigates the complaint.
	Handler string `json:"handler"`
	Group   string `json:"group"`
	// Investigations are the notes of each investigation; Actions the
	// action taken in each round; Reports each report to the complainant.
	Investigations []Review          `json:"investigations"`
	Actions        []Review          `json:"actions"`
	Reports        []ComplaintReport `json:"reports"`
	Disputes       int               `json:"disputes"`
	// ActionDue is when the current round must be actioned by; Overdue
	// says it was escalated for it. Escalation: 0 none, 1 the service owner
	// and the manager heard, 2 top management.
	ActionDue   *time.Time            `json:"action_due"`
	Overdue     bool                  `json:"overdue"`
	Escalation  int                   `json:"escalation"`
	Escalations []ComplaintEscalation `json:"escalations"`
	// ResponseDue is when an unanswered report closes the complaint.
	ResponseDue *time.Time `json:"response_due"`
	// Closure is "accepted" or "no_response" once closed.
	Closure    string     `json:"closure"`
	ClosedAt   *time.Time `json:"closed_at"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	CreatedBy  string     `json:"created_by"`
	WaitingFor string     `json:"waiting_for"`
	Links      []Link     `json:"links"`
}

type complaint struct {
	rec     Complaint
	num     int64
	rules   ComplaintRules
	journal journal
	opened  bool
	wake    wake
	// escalatedAt is when the first level heard, for the second.
	escalatedAt time.Time
}

// ComplaintWorkflow runs one complaint (clause 7.1) from its receipt to its
// close: record (classify), investigate, act, report to the complainant,
// who accepts or disputes the outcome (a dispute goes back to the
// investigation), and close, with an escalation route when it is not
// actioned in time.
//
// Actions, and the Action fields each reads (Action has no fields of its
// own for complaints):
//
//	record       impact (the severity: low, medium or high), reason (the
//	             category, optional), id (the service, when the complaint
//	             arrived without one or names the wrong one), notes (optional)
//	                                                  agent, admin, process_owner; received or recorded
//	investigate  assignee (the handler; defaults to the actor), group
//	             (optional), notes (optional)         agent, admin, process_owner; recorded or
//	                                                  investigating (a reassignment)
//	act          summary (the action taken)           agent, admin, process_owner; investigating
//	report       summary (the report to the complainant)
//	                                                  agent, admin, process_owner; actioned
//	accept       comment (optional)                   the complainant; reported, unanswered
//	dispute      reason                               the complainant; reported, unanswered:
//	                                                  back to investigating
//	close        comment (optional)                   agent, admin, process_owner; reported and
//	                                                  accepted, or unanswered ResponseWait after the report
//	escalate     reason                               agent, admin, process_owner; not closed:
//	                                                  the next level of the route
//	comment      body                                 agent, admin, process_owner, the complainant
//	link         kind, id, relation                   agent, admin, process_owner
//
// The workflow's own entries (actor "system"): overdue_escalated (level
// manager, then top_management) and closed_no_response.
func ComplaintWorkflow(ctx workflow.Context, in ComplaintInput) error {
	now := workflow.Now(ctx).UTC()
	complainant := in.Caller
	if complainant == "" {
		complainant = in.Actor.ID
	}
	w := &complaint{num: in.Num, rules: in.Rules, rec: Complaint{
		ID: in.ID, Kind: "complaints", Title: in.Title, Description: in.Description, Status: CmpReceived,
		Service: in.Service, Source: in.Source, Complainant: complainant,
		Investigations: []Review{}, Actions: []Review{}, Reports: []ComplaintReport{}, Escalations: []ComplaintEscalation{},
		CreatedAt: now, UpdatedAt: now, CreatedBy: in.Actor.ID, Links: []Link{},
	}}
	w.startRound(now)
	proc := process[Complaint]{
		record:     func() Complaint { return w.rec },
		opened:     func() bool { return w.opened },
		validate:   func(a Action) error { return w.validate(workflow.Now(ctx).UTC(), a) },
		apply:      w.apply,
		status:     func() string { return w.rec.Status },
		transition: w.transition,
	}
	if err := registerHandlers(ctx, proc); err != nil {
		return err
	}
	d := detail("complainant", complainant, "service", in.Service, "source", in.Source)
	if w.rec.ActionDue != nil {
		d["action_due"] = stamp(*w.rec.ActionDue)
	}
	notes := w.notify(in.Actor.ID, "complaint_received", "complaint received: "+in.Title, true, in.Rules.ProcessOwner)
	notes = append(notes, w.notify(in.Actor.ID, "complaint_acknowledged",
		fmt.Sprintf("we have received your complaint %s: %s", in.ID, in.Title), false, complainant)...)
	if err := w.transition(ctx, in.Actor.ID, "open", "", d, notes); err != nil {
		return err
	}
	w.opened = true
	idle := receiveSignals(ctx, proc)
	ended := func() bool { return w.rec.Status == CmpClosed }
	if err := runTimers(ctx, &w.wake, ended, w.plan); err != nil {
		return err
	}
	return settle(ctx, idle)
}

// startRound starts the clock for actioning the complaint: at receipt, and
// again after a dispute, when the escalation route starts over.
func (w *complaint) startRound(now time.Time) {
	r := &w.rec
	r.Escalation, w.escalatedAt = 0, time.Time{}
	r.ActionDue = nil
	if w.rules.ActionWithin > 0 {
		due := now.Add(w.rules.ActionWithin)
		r.ActionDue = &due
	}
}

// unactioned reports whether the complaint waits for its action.
func (w *complaint) unactioned() bool {
	switch w.rec.Status {
	case CmpReceived, CmpRecorded, CmpInvestigating:
		return true
	}
	return false
}

// current is the latest report, or nil before the first.
func (w *complaint) current() *ComplaintReport {
	if n := len(w.rec.Reports); n > 0 {
		return &w.rec.Reports[n-1]
	}
	return nil
}

// answered reports whether the complainant answered the current report.
func (w *complaint) answered() bool {
	p := w.current()
	return p != nil && p.Response != ""
}

// plan is the complaint's next deadline: while it waits for its action,
// the escalation to the first level at ActionDue and to top management
// EscalateAfter later; once reported and unanswered, the automatic close.
func (w *complaint) plan() (time.Time, func(workflow.Context) error) {
	r := w.rec
	switch {
	case w.unactioned() && r.ActionDue != nil:
		switch {
		case r.Escalation == 0:
			return *r.ActionDue, w.escalateOverdue
		case r.Escalation == 1 && w.rules.EscalateAfter > 0:
			from := *r.ActionDue
			if w.escalatedAt.After(from) {
				from = w.escalatedAt
			}
			return from.Add(w.rules.EscalateAfter), w.escalateOverdue
		}
	case r.Status == CmpReported && !w.answered() && w.rules.ResponseWait > 0 && r.ResponseDue != nil:
		return *r.ResponseDue, w.closeUnanswered
	}
	return time.Time{}, nil
}

// escalate moves the complaint one level up the route and returns the
// level and who hears. With nobody at the first level it goes straight to
// top management.
func (w *complaint) escalate(now time.Time, by, reason string) ComplaintEscalation {
	r := &w.rec
	r.Escalation++
	level, to := "manager", w.rules.firstLevel(r.Service)
	if r.Escalation >= 2 || len(to) == 0 {
		r.Escalation = 2
		level, to = "top_management", slices.Clone(w.rules.TopManagement)
	}
	if r.Escalation == 1 {
		w.escalatedAt = now
	}
	e := ComplaintEscalation{Level: level, To: to, Reason: reason, By: by, At: now}
	r.Escalations = append(r.Escalations, e)
	return e
}

// escalateOverdue escalates a complaint not actioned in time.
func (w *complaint) escalateOverdue(ctx workflow.Context) error {
	now := workflow.Now(ctx).UTC()
	r := &w.rec
	due := *r.ActionDue
	e := w.escalate(now, systemActor.ID, "not actioned in time")
	text := fmt.Sprintf("%s from %s (severity %s) was to be actioned by %s and is %s: %s",
		r.ID, r.Complainant, orNone(r.Severity), stamp(due), r.Status, r.Title)
	notes := w.notify(systemActor.ID, "complaint_overdue", text, true, e.To...)
	d := detail("level", e.Level, "to", e.To, "action_due", stamp(due), "overdue_by", now.Sub(due).String())
	return w.transition(ctx, systemActor.ID, "overdue_escalated", r.Status, d, notes)
}

// closeUnanswered closes a complaint whose report went unanswered for
// ResponseWait.
func (w *complaint) closeUnanswered(ctx workflow.Context) error {
	now := workflow.Now(ctx).UTC()
	r := &w.rec
	from := r.Status
	r.Status, r.Closure, r.ClosedAt = CmpClosed, "no_response", &now
	notes := w.notify(systemActor.ID, "complaint_closed",
		fmt.Sprintf("%s is closed: we had no answer to our report of %s", r.ID, stamp(w.current().At)), false, r.Complainant)
	return w.transition(ctx, systemActor.ID, "closed_no_response", from,
		detail("reported_at", stamp(w.current().At), "waited", w.rules.ResponseWait.String()), notes)
}

func orNone(s string) string {
	if s == "" {
		return "unclassified"
	}
	return s
}

// notify addresses one notification by email, and by Slack when asked, to
// each distinct recipient, leaving out nobody ("") and the actor, who knows.
func (w *complaint) notify(actor, event, text string, slack bool, to ...string) []activities.Note {
	return notifyAll(w.rec.ID, actor, event, text, slack, to...)
}

func (w *complaint) transition(ctx workflow.Context, actor, action, from string, d map[string]any, notes []activities.Note) error {
	now := workflow.Now(ctx).UTC()
	r := &w.rec
	r.UpdatedAt = now
	r.Overdue = w.unactioned() && r.Escalation > 0 && r.ActionDue != nil && !now.Before(*r.ActionDue)
	r.WaitingFor = w.waitingFor()
	err := w.journal.record(ctx, activities.CaseRow{
		ID: r.ID, Kind: r.Kind, Num: w.num, Title: r.Title, Status: r.Status, Service: r.Service,
		Assignee: r.Handler, Group: r.Group, CreatedBy: r.CreatedBy, Caller: r.Complainant, CreatedAt: r.CreatedAt, UpdatedAt: now,
		Record: marshalRecord(w.rec),
	}, activities.Entry{At: now, Actor: actor, Action: action, From: from, To: r.Status, Detail: d}, notes)
	w.wake.bump()
	return err
}

func (w *complaint) waitingFor() string {
	r := w.rec
	switch r.Status {
	case CmpReceived:
		return "recording: service and severity (record)"
	case CmpRecorded:
		return "an investigation (investigate)"
	case CmpInvestigating:
		lead := "the action taken"
		if p := w.current(); p != nil && p.Response == CmpDisputed {
			lead = "the outcome was disputed: further investigation and the action taken"
		}
		if r.ActionDue != nil {
			return fmt.Sprintf("%s by %s (act)", lead, stamp(*r.ActionDue))
		}
		return lead + " (act)"
	case CmpActioned:
		return "a report to the complainant (report)"
	case CmpReported:
		if w.answered() {
			return "closure: the complainant accepted the outcome (close)"
		}
		if r.ResponseDue != nil && w.rules.ResponseWait > 0 {
			return fmt.Sprintf("the answer of %s (accept or dispute), or closure without one at %s", r.Complainant, stamp(*r.ResponseDue))
		}
		return fmt.Sprintf("the answer of %s (accept or dispute), or closure (close)", r.Complainant)
	}
	return ""
}

func (w *complaint) validate(now time.Time, a Action) error {
	r := w.rec
	who := a.Actor
	staff := who.Has(policy.RoleAgent, policy.RoleAdmin, policy.RoleProcessOwner)
	complainant := who.ID == r.Complainant
	switch a.Action {
	case "record", "investigate", "act", "report", "close", "escalate", "link":
		if !staff {
			return forbidden("%s may not %s %s: it needs the agent or process_owner role", who.ID, a.Action, r.ID)
		}
	case "accept", "dispute":
		if !complainant {
			return forbidden("%s may not %s the outcome of %s: its complainant (%s) does", who.ID, a.Action, r.ID, r.Complainant)
		}
	case "comment":
		if !internalNote(a) && !staff && !complainant {
			return forbidden("%s may not comment on %s", who.ID, r.ID)
		}
	default:
		return invalid("unknown action %q for a complaint", a.Action)
	}
	within := func(statuses ...string) error {
		return inStatus(r.Status, who, a.Action, "a complaint", statuses...)
	}
	switch a.Action {
	case "record":
		if err := within(CmpReceived, CmpRecorded); err != nil {
			return err
		}
		if !slices.Contains(ComplaintSeverities, a.Impact) {
			return invalid("record needs impact (the severity) to be one of %v", ComplaintSeverities)
		}
		if a.ID == "" && r.Service == "" {
			return invalid("record needs id (the service the complaint is about): %s names none", r.ID)
		}
	case "investigate":
		return within(CmpRecorded, CmpInvestigating)
	case "act":
		if err := within(CmpInvestigating); err != nil {
			return err
		}
		if a.Summary == "" {
			return invalid("act needs summary (the action taken)")
		}
	case "report":
		if err := within(CmpActioned); err != nil {
			return err
		}
		if a.Summary == "" {
			return invalid("report needs summary (the report to the complainant)")
		}
	case "accept", "dispute":
		if err := within(CmpReported); err != nil {
			return err
		}
		if p := w.current(); p.Response != "" {
			return conflict("the report of %s is answered already: %s", r.ID, p.Response)
		}
		if a.Action == "dispute" && a.Reason == "" {
			return invalid("dispute needs a reason")
		}
	case "close":
		if err := within(CmpReported); err != nil {
			return err
		}
		if !w.answered() && r.ResponseDue != nil && now.Before(*r.ResponseDue) {
			return conflict("%s waits for the answer of %s until %s", r.ID, r.Complainant, stamp(*r.ResponseDue))
		}
	case "escalate":
		if r.Status == CmpClosed {
			return conflict("%s is closed", r.ID)
		}
		if r.Escalation >= 2 {
			return conflict("%s is with top management already", r.ID)
		}
		if a.Reason == "" {
			return invalid("escalate needs a reason")
		}
	case "comment":
		return checkComment(a, r.ID, r.Status == CmpClosed, r.Status)
	case "link":
		return checkLink(a)
	}
	return nil
}

func (w *complaint) apply(ctx workflow.Context, a Action) error {
	now := workflow.Now(ctx).UTC()
	r := &w.rec
	from := r.Status
	d := detail("source", a.Source)
	var notes []activities.Note
	switch a.Action {
	case "record":
		if a.ID != "" {
			r.Service = a.ID
		}
		r.Severity, r.Category, r.RecordedBy, r.RecordedAt = a.Impact, a.Reason, a.Actor.ID, &now
		d["service"], d["severity"], d["category"], d["notes"] = r.Service, a.Impact, a.Reason, a.Notes
		if from == CmpRecorded {
			d["reclassified"] = true
		}
		r.Status = CmpRecorded
	case "investigate":
		handler := a.Assignee
		if handler == "" {
			handler = a.Actor.ID
		}
		r.Handler = handler
		if a.Group != "" {
			r.Group = a.Group
		}
		r.Investigations = append(r.Investigations, Review{Summary: a.Notes, By: a.Actor.ID, At: now})
		d["handler"], d["group"], d["notes"] = handler, r.Group, a.Notes
		r.Status = CmpInvestigating
		notes = w.notify(a.Actor.ID, "complaint_assigned", "you handle the complaint "+r.ID+": "+r.Title, true, handler)
	case "act":
		r.Actions = append(r.Actions, Review{Summary: a.Summary, By: a.Actor.ID, At: now})
		d["action"] = a.Summary
		if r.ActionDue != nil && now.After(*r.ActionDue) {
			d["late"] = true
		}
		r.ActionDue = nil
		r.Status = CmpActioned
	case "report":
		r.Reports = append(r.Reports, ComplaintReport{Summary: a.Summary, By: a.Actor.ID, At: now})
		d["report"] = a.Summary
		r.ResponseDue = nil
		if w.rules.ResponseWait > 0 {
			due := now.Add(w.rules.ResponseWait)
			r.ResponseDue = &due
			d["response_due"] = stamp(due)
		}
		r.Status = CmpReported
		notes = w.notify(a.Actor.ID, "complaint_reported",
			fmt.Sprintf("the outcome of your complaint %s: %s (please accept or dispute it)", r.ID, a.Summary), true, r.Complainant)
	case "accept":
		p := w.current()
		p.Response, p.RespondedAt = CmpAccepted, &now
		r.ResponseDue = nil
		d["comment"] = a.Comment
		notes = w.notify(a.Actor.ID, "complaint_accepted", "the complainant accepted the outcome of "+r.ID, false, p.By, r.Handler)
	case "dispute":
		p := w.current()
		p.Response, p.Reason, p.RespondedAt = CmpDisputed, a.Reason, &now
		r.ResponseDue = nil
		r.Disputes++
		d["reason"] = a.Reason
		r.Status = CmpInvestigating
		w.startRound(now)
		if r.ActionDue != nil {
			d["action_due"] = stamp(*r.ActionDue)
		}
		notes = w.notify(a.Actor.ID, "complaint_disputed",
			fmt.Sprintf("the complainant disputes the outcome of %s: %s", r.ID, a.Reason), true, r.Handler, p.By, w.rules.ProcessOwner)
	case "close":
		r.Status, r.ClosedAt = CmpClosed, &now
		r.Closure = CmpAccepted
		if !w.answered() {
			r.Closure = "no_response"
		}
		d["closure"], d["comment"] = r.Closure, a.Comment
		notes = w.notify(a.Actor.ID, "complaint_closed", fmt.Sprintf("your complaint %s is closed: %s", r.ID, r.Title), false, r.Complainant)
	case "escalate":
		e := w.escalate(now, a.Actor.ID, a.Reason)
		d["level"], d["to"], d["reason"] = e.Level, e.To, a.Reason
		notes = w.notify(a.Actor.ID, "complaint_escalated",
			fmt.Sprintf("%s escalated %s to you: %s (%s)", a.Actor.ID, r.ID, a.Reason, r.Title), true, e.To...)
	case "comment":
		commentDetail(a, d)
	case "link":
		applyLink(a, &r.Links, d)
	}
	return w.transition(ctx, a.Actor.ID, a.Action, from, d, notes)
}
