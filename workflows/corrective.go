package workflows

import (
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/policy"
)

// Corrective-action statuses (spec §2.0 (e), clause 4.5.5 steps a–f).
//
//	raised ─confirm─▶ confirmed ─analyse_cause─▶ cause_analysed ─evaluate(needed)─▶ evaluated
//	evaluated ─plan─▶ planned ─record_results─▶ implemented ─(timer)─▶ verifying
//	verifying ─verify(effective)─▶ closed
//	verifying ─verify(ineffective)─▶ cause_analysed (the cycle starts again)
//	raised|confirmed|cause_analysed|evaluated ─no_action, or evaluate(not needed)─▶ no_action_proposed
//	no_action_proposed ─approve_no_action─▶ closed
//	no_action_proposed ─reject_no_action─▶ the status it was proposed from
const (
	// CapaRaised: the nonconformity is recorded, not yet confirmed
	// (spec: Detected, Recorded).
	CapaRaised = "raised"
	// CapaConfirmed: (a) the nonconformity is confirmed.
	CapaConfirmed = "confirmed"
	// CapaCauseAnalysed: (b) its cause is identified; an ineffective action
	// comes back here.
	CapaCauseAnalysed = "cause_analysed"
	// CapaEvaluated: (c) the need for action was evaluated, and action is
	// needed.
	CapaEvaluated = "evaluated"
	// CapaNoActionProposed: someone proposed that no action is needed; a
	// second person, a process owner, decides.
	CapaNoActionProposed = "no_action_proposed"
	// CapaPlanned: (d) the action is decided, with an owner and a due date;
	// the owner is reminded before it and escalation follows after it.
	CapaPlanned = "planned"
	// CapaImplemented: (e) the results are recorded; the effectiveness
	// check falls due EffectivenessAfter later.
	CapaImplemented = "implemented"
	// CapaVerifying: (f) the effectiveness check is due.
	CapaVerifying = "verifying"
	// CapaClosed: effective, or no action needed by an approved decision.
	CapaClosed = "closed"
)

// Kinds of source a corrective action is raised from (spec §2.0: a
// nonconformity comes from an incident, complaint, audit, review or SLM
// monitoring).
const (
	CapaSourceManual              = "manual"
	CapaSourceSupplierReview      = "supplier_review"
	CapaSourceAuditFinding        = "audit_finding"
	CapaSourceMajorIncidentReview = "major_incident_review"
	CapaSourceComplaint           = "complaint"
	CapaSourceSLABreachTrend      = "sla_breach_trend"
)

// correctiveSources are the kinds of source, each with the kind of the case
// (or record) its id names, which the corrective action links as
// "raised_from". A nonconformity raised by hand links nothing.
var correctiveSources = []struct{ kind, caseKind string }{
	{CapaSourceManual, ""},
	{CapaSourceSupplierReview, "supplier-reviews"},
	{CapaSourceAuditFinding, "audits"},
	{CapaSourceMajorIncidentReview, "incidents"},
	{CapaSourceComplaint, "complaints"},
	{CapaSourceSLABreachTrend, "services"},
}

// CorrectiveSourceKinds lists the kinds of source a corrective action may be
// raised from.
func CorrectiveSourceKinds() []string {
	out := make([]string, 0, len(correctiveSources))
	for _, s := range correctiveSources {
		out = append(out, s.kind)
	}
	return out
}

// CorrectiveSource is where a nonconformity came from: by hand, or a case
// of another process whose id it names.
type CorrectiveSource struct {
	Kind string `json:"kind"`
	ID   string `json:"id,omitempty"`
}

// CheckCorrectiveSource validates a source as the workflow does when it
// starts; the command layer calls it first, so a bad source is a 422 rather
// than a failed run. Every source but "manual" names the case it came from.
func CheckCorrectiveSource(s CorrectiveSource) error {
	i := slices.IndexFunc(correctiveSources, func(c struct{ kind, caseKind string }) bool { return c.kind == s.Kind })
	if i < 0 {
		return invalid("source kind %q is not one of %v", s.Kind, CorrectiveSourceKinds())
	}
	if s.Kind != CapaSourceManual && s.ID == "" {
		return invalid("a corrective action raised from a %s needs the source's id", s.Kind)
	}
	return nil
}

// sourceLink is the link to the case a corrective action was raised from.
func (s CorrectiveSource) link() (Link, bool) {
	for _, c := range correctiveSources {
		if c.kind == s.Kind && c.caseKind != "" && s.ID != "" {
			return Link{Kind: c.caseKind, ID: s.ID, Relation: "raised_from"}, true
		}
	}
	return Link{}, false
}

// CorrectiveRules are what one corrective action needs of the configuration,
// copied in when it is raised (a case keeps the rules it started under).
type CorrectiveRules struct {
	// ReminderBefore: the owner is reminded this long before the due date.
	// Zero: no reminder. A plan made less than this before its due date
	// gets no reminder: the assignment said when it is due.
	ReminderBefore time.Duration `json:"reminder_before,omitempty"`
	// EscalateAfter: an action still without results this long after its
	// due date (when the owner's manager heard) goes to top management.
	// Zero: never (the manager alone hears).
	EscalateAfter time.Duration `json:"escalate_after,omitempty"`
	// EffectivenessAfter: the effectiveness check falls due this long after
	// the results were recorded. Zero: at once.
	EffectivenessAfter time.Duration `json:"effectiveness_after,omitempty"`
	// Managers maps each group to its manager: the manager of the owner's
	// group (the plan's group) hears of an overdue action first. Manager is
	// the fallback when the plan names no group, or a group without one;
	// with neither, an overdue action goes straight to top management.
	Managers map[string]string `json:"managers,omitempty"`
	Manager  string            `json:"manager,omitempty"`
	// TopManagement hears of an action still overdue EscalateAfter later.
	TopManagement []string `json:"top_management,omitempty"`
	// ProcessOwner is the owner of the improvement process: told of each
	// nonconformity raised, of proposals that no action is needed, and of
	// each effectiveness check that falls due.
	ProcessOwner string `json:"process_owner,omitempty"`
}

// managerOf is the manager who hears of an overdue action of the group.
func (rs CorrectiveRules) managerOf(group string) string {
	if m := rs.Managers[group]; m != "" {
		return m
	}
	return rs.Manager
}

// CorrectiveInput raises a corrective action (CAPA-).
type CorrectiveInput struct {
	ID          string           `json:"id"`
	Num         int64            `json:"num"`
	Title       string           `json:"title"`
	Description string           `json:"description"`
	Service     string           `json:"service,omitempty"`
	Source      CorrectiveSource `json:"source"`
	Actor       Actor            `json:"actor"`
	// Owner is who answers for the corrective action; optional when it is
	// raised, required by the time an action is planned.
	Owner string          `json:"owner,omitempty"`
	Group string          `json:"group,omitempty"`
	Rules CorrectiveRules `json:"rules"`
}

// CapaEvaluation is one evaluation of the need for action (4.5.5 c).
type CapaEvaluation struct {
	Need   bool      `json:"need"`
	Reason string    `json:"reason"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}

// EffectivenessCheck is the review of whether an action achieved its
// intended result (4.5.5 f).
type EffectivenessCheck struct {
	Effective bool      `json:"effective"`
	Notes     string    `json:"notes"`
	By        string    `json:"by"`
	At        time.Time `json:"at"`
}

// CapaPlan is one decided action (4.5.5 d), with what became of it: its
// results (e) and its effectiveness check (f). An ineffective check sends
// the corrective action back to cause analysis, and the next plan is a new
// entry.
type CapaPlan struct {
	Action     string     `json:"action"`
	Owner      string     `json:"owner"`
	Group      string     `json:"group,omitempty"`
	Due        time.Time  `json:"due"`
	By         string     `json:"by"`
	At         time.Time  `json:"at"`
	RemindedAt *time.Time `json:"reminded_at,omitempty"`
	// Escalation: 0 none, 1 the owner's manager heard, 2 top management.
	Escalation    int                 `json:"escalation"`
	Results       string              `json:"results,omitempty"`
	ResultsBy     string              `json:"results_by,omitempty"`
	ImplementedAt *time.Time          `json:"implemented_at,omitempty"`
	CheckDue      *time.Time          `json:"check_due,omitempty"`
	Check         *EffectivenessCheck `json:"check,omitempty"`
}

// CapaNoAction is one proposal that no action is needed, and its decision
// by a process owner who did not propose it.
type CapaNoAction struct {
	Reason     string     `json:"reason"`
	ProposedBy string     `json:"proposed_by"`
	ProposedAt time.Time  `json:"proposed_at"`
	From       string     `json:"from"`
	Decision   string     `json:"decision,omitempty"` // "", "approved" or "rejected"
	DecidedBy  string     `json:"decided_by,omitempty"`
	DecidedAt  *time.Time `json:"decided_at,omitempty"`
	Comment    string     `json:"comment,omitempty"`
}

// Corrective is the record of a nonconformity and its corrective action.
type Corrective struct {
	ID          string           `json:"id"`
	Kind        string           `json:"kind"`
	Title       string           `json:"title"`
	Description string           `json:"description"`
	Status      string           `json:"status"`
	Service     string           `json:"service"`
	Source      CorrectiveSource `json:"source"`
	Owner       string           `json:"owner"`
	Group       string           `json:"group"`
	// Confirmation is who confirmed the nonconformity, when, and their
	// notes (as its summary).
	Confirmation *Review `json:"confirmation"`
	// RootCause is the latest cause analysis; Analyses keeps each one.
	RootCause   string           `json:"root_cause"`
	Analyses    []Review         `json:"analyses"`
	Evaluations []CapaEvaluation `json:"evaluations"`
	Plans       []CapaPlan       `json:"plans"`
	NoAction    []CapaNoAction   `json:"no_action"`
	// Due and Overdue describe the current plan while it waits for results.
	Due     *time.Time `json:"due"`
	Overdue bool       `json:"overdue"`
	// Closure is "effective" or "no_action" once closed.
	Closure    string     `json:"closure"`
	ClosedAt   *time.Time `json:"closed_at"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	CreatedBy  string     `json:"created_by"`
	WaitingFor string     `json:"waiting_for"`
	Links      []Link     `json:"links"`
}

type corrective struct {
	rec     Corrective
	num     int64
	rules   CorrectiveRules
	journal journal
	opened  bool
	wake    wake
}

// CorrectiveWorkflow runs one nonconformity from being raised to a verified
// close (clause 4.5.5): confirm, find the cause, evaluate the need for
// action, decide and act (an owner, a due date, a reminder before it and
// escalation after it), record the results, and check effectiveness a
// configured time after implementation. Only an effective check closes it;
// an ineffective one goes back to cause analysis. Deciding that no action
// is needed takes a reason and the approval of a second person.
//
// Actions, and the Action fields each reads (Action has no fields of its
// own for corrective actions):
//
//	confirm            notes (optional)                  agent, admin, process_owner
//	analyse_cause      root_cause                        agent, admin, process_owner
//	                   (also in cause_analysed: a revised analysis)
//	evaluate           needs_change (= action is needed, true or false), reason
//	                   agent, admin, process_owner; needs_change false proposes no action
//	no_action          reason                            agent, admin, process_owner
//	approve_no_action  comment (optional)                process_owner, admin; not the proposer
//	reject_no_action   comment (optional)                process_owner, admin; not the proposer
//	plan               plan (the action decided), assignee (the owner; defaults to the
//	                   case's owner), group (the owner's group, whose manager hears of
//	                   an overdue action; optional), start (the due date, RFC 3339, in
//	                   the future)                       agent, admin, process_owner;
//	                   in planned it re-plans: a new owner or due date, reminder and
//	                   escalation start again, and the history keeps the previous due date
//	record_results     results                           the owner, process_owner, admin
//	verify             success (= effective, true or false), notes
//	                   process_owner, admin; not the owner nor whoever recorded the
//	                   results; only once the check is due (status verifying): an early
//	                   check is refused with the time it falls due
//	comment            body                              agent, admin, process_owner, the owner, the raiser
//	link               kind, id, relation                agent, admin, process_owner, the owner, the raiser
//
// The workflow's own entries (actor "system"): due_reminder, overdue_escalated
// (level manager, then top_management) and effectiveness_check_due.
func CorrectiveWorkflow(ctx workflow.Context, in CorrectiveInput) error {
	if err := CheckCorrectiveSource(in.Source); err != nil {
		return err
	}
	now := workflow.Now(ctx).UTC()
	w := &corrective{num: in.Num, rules: in.Rules, rec: Corrective{
		ID: in.ID, Kind: "corrective-actions", Title: in.Title, Description: in.Description, Status: CapaRaised,
		Service: in.Service, Source: in.Source, Owner: in.Owner, Group: in.Group,
		Analyses: []Review{}, Evaluations: []CapaEvaluation{}, Plans: []CapaPlan{}, NoAction: []CapaNoAction{},
		CreatedAt: now, UpdatedAt: now, CreatedBy: in.Actor.ID, Links: []Link{},
	}}
	if l, ok := in.Source.link(); ok {
		w.rec.Links = append(w.rec.Links, l)
	}
	proc := process[Corrective]{
		record: func() Corrective { return w.rec },
		opened: func() bool { return w.opened },
		// A plan's due date must lie ahead at the time of asking.
		validate:   func(a Action) error { return w.validate(workflow.Now(ctx).UTC(), a) },
		apply:      w.apply,
		status:     func() string { return w.rec.Status },
		transition: w.transition,
	}
	if err := registerHandlers(ctx, proc); err != nil {
		return err
	}
	d := detail("source", in.Source.Kind, "source_id", in.Source.ID, "owner", in.Owner, "service", in.Service)
	notes := w.notify(in.Actor.ID, "nonconformity_raised", "nonconformity raised: "+in.Title, true, in.Rules.ProcessOwner, in.Owner)
	if err := w.transition(ctx, in.Actor.ID, "open", "", d, notes); err != nil {
		return err
	}
	w.opened = true
	idle := receiveSignals(ctx, proc)
	ended := func() bool { return w.rec.Status == CapaClosed }
	if err := runTimers(ctx, &w.wake, ended, w.plan); err != nil {
		return err
	}
	// A corrective action raised by an audit tells it that it closed: the
	// audit closes when every action it raised is verified. Version 1 told
	// any parent; a supplier review, which closes when it is recorded and
	// waits for no action, had the signal fail against its closed run.
	if p := workflow.GetInfo(ctx).ParentWorkflowExecution; p != nil &&
		w.tellsParent(workflow.GetVersion(ctx, "tell-parent-closed", workflow.DefaultVersion, 2)) {
		st := CaseState{ID: w.rec.ID, Status: w.rec.Status, Success: w.rec.Closure == "effective"}
		if err := workflow.SignalExternalWorkflow(ctx, p.ID, "", SignalChildOutcome, st).Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("could not tell the raiser of a corrective action that it closed", "case", p.ID, "error", err)
		}
	}
	return settle(ctx, idle)
}

// tellsParent reports whether the action signals its parent when it
// closes, at the version of "tell-parent-closed" the run recorded.
func (w *corrective) tellsParent(version workflow.Version) bool {
	switch version {
	case workflow.DefaultVersion:
		return false
	case 1:
		return true
	default:
		return w.rec.Source.Kind == CapaSourceAuditFinding
	}
}

// current is the latest plan, or nil before the first.
func (w *corrective) current() *CapaPlan {
	if n := len(w.rec.Plans); n > 0 {
		return &w.rec.Plans[n-1]
	}
	return nil
}

// pendingNoAction is the proposal that waits for a decision.
func (w *corrective) pendingNoAction() *CapaNoAction {
	if n := len(w.rec.NoAction); n > 0 && w.rec.NoAction[n-1].Decision == "" {
		return &w.rec.NoAction[n-1]
	}
	return nil
}

// plan is the corrective action's next deadline: while an action waits for
// its results, the reminder before its due date, then the escalation to the
// owner's manager at the due date and to top management EscalateAfter
// later; once results are recorded, the effectiveness check.
func (w *corrective) plan() (time.Time, func(workflow.Context) error) {
	p := w.current()
	if p == nil {
		return time.Time{}, nil
	}
	switch w.rec.Status {
	case CapaPlanned:
		if at, ok := w.reminderAt(*p); ok && p.RemindedAt == nil {
			return at, w.remind
		}
		switch {
		case p.Escalation == 0:
			return p.Due, w.escalateOverdue
		case p.Escalation == 1 && w.rules.EscalateAfter > 0:
			return p.Due.Add(w.rules.EscalateAfter), w.escalateOverdue
		}
	case CapaImplemented:
		if p.CheckDue != nil {
			return *p.CheckDue, w.checkDue
		}
	}
	return time.Time{}, nil
}

// reminderAt is when the owner is reminded of the plan, if at all.
func (w *corrective) reminderAt(p CapaPlan) (time.Time, bool) {
	if w.rules.ReminderBefore <= 0 {
		return time.Time{}, false
	}
	at := p.Due.Add(-w.rules.ReminderBefore)
	return at, at.After(p.At)
}

func (w *corrective) remind(ctx workflow.Context) error {
	now := workflow.Now(ctx).UTC()
	p := w.current()
	p.RemindedAt = &now
	notes := w.notify(systemActor.ID, "corrective_action_reminder",
		fmt.Sprintf("%s is due at %s: %s", w.rec.ID, stamp(p.Due), p.Action), true, p.Owner)
	return w.transition(ctx, systemActor.ID, "due_reminder", w.rec.Status,
		detail("owner", p.Owner, "due", stamp(p.Due)), notes)
}

// escalateOverdue tells the owner's manager that the action is overdue, and
// top management if it still is EscalateAfter later. With no manager the
// first escalation goes to top management, and there is no second.
func (w *corrective) escalateOverdue(ctx workflow.Context) error {
	r := &w.rec
	p := w.current()
	p.Escalation++
	level, to := "manager", []string{w.rules.managerOf(p.Group)}
	if p.Escalation == 2 || to[0] == "" {
		p.Escalation = 2
		level, to = "top_management", slices.Clone(w.rules.TopManagement)
	}
	overdue := workflow.Now(ctx).Sub(p.Due)
	var notes []activities.Note
	for _, u := range to {
		if u != "" {
			notes = append(notes, note(u, "corrective_action_overdue", r.ID,
				fmt.Sprintf("%s, owned by %s, was due at %s and has no results: %s", r.ID, p.Owner, stamp(p.Due), r.Title)))
		}
	}
	d := detail("level", level, "to", to, "owner", p.Owner, "due", stamp(p.Due), "overdue_by", overdue.String())
	return w.transition(ctx, systemActor.ID, "overdue_escalated", r.Status, d, notes)
}

// checkDue makes the effectiveness check due: the process owner and the
// person who raised the nonconformity hear of it.
func (w *corrective) checkDue(ctx workflow.Context) error {
	r := &w.rec
	p := w.current()
	from := r.Status
	r.Status = CapaVerifying
	notes := w.notify(systemActor.ID, "effectiveness_check_due",
		fmt.Sprintf("the effectiveness check of %s is due: %s", r.ID, r.Title), true, w.rules.ProcessOwner, r.CreatedBy)
	return w.transition(ctx, systemActor.ID, "effectiveness_check_due", from,
		detail("implemented_at", stamp(*p.ImplementedAt), "after", w.rules.EffectivenessAfter.String()), notes)
}

// notify addresses one notification by email, and by Slack when asked, to
// each distinct recipient, leaving out nobody ("") and the actor, who knows.
func (w *corrective) notify(actor, event, text string, slack bool, to ...string) []activities.Note {
	return notifyAll(w.rec.ID, actor, event, text, slack, to...)
}

func (w *corrective) transition(ctx workflow.Context, actor, action, from string, d map[string]any, notes []activities.Note) error {
	now := workflow.Now(ctx).UTC()
	r := &w.rec
	r.UpdatedAt = now
	r.Due, r.Overdue = nil, false
	if p := w.current(); p != nil && r.Status == CapaPlanned {
		due := p.Due
		r.Due, r.Overdue = &due, p.Escalation > 0
	}
	r.WaitingFor = w.waitingFor()
	err := w.journal.record(ctx, activities.CaseRow{
		ID: r.ID, Kind: r.Kind, Num: w.num, Title: r.Title, Status: r.Status, Service: r.Service,
		Assignee: r.Owner, Group: r.Group, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, UpdatedAt: now,
		Record: marshalRecord(w.rec),
	}, activities.Entry{At: now, Actor: actor, Action: action, From: from, To: r.Status, Detail: d}, notes)
	w.wake.bump()
	return err
}

// ineffective reports whether the corrective action came back to cause
// analysis after an ineffective check and has not been analysed since.
func (w *corrective) ineffective() bool {
	p := w.current()
	if p == nil || p.Check == nil || p.Check.Effective {
		return false
	}
	n := len(w.rec.Analyses)
	return n == 0 || !w.rec.Analyses[n-1].At.After(p.Check.At)
}

func (w *corrective) waitingFor() string {
	r := w.rec
	switch r.Status {
	case CapaRaised:
		return "confirmation of the nonconformity (confirm)"
	case CapaConfirmed:
		return "cause analysis (analyse_cause)"
	case CapaCauseAnalysed:
		if w.ineffective() {
			return "the action was ineffective: cause analysis again (analyse_cause) and evaluation of the need for action (evaluate)"
		}
		return "evaluation of the need for action (evaluate)"
	case CapaEvaluated:
		return "an action with an owner and a due date (plan)"
	case CapaNoActionProposed:
		if p := w.pendingNoAction(); p != nil {
			return fmt.Sprintf("approval that no action is needed by a process owner other than %s (approve_no_action)", p.ProposedBy)
		}
	case CapaPlanned:
		p := w.current()
		if p.Escalation > 0 {
			return fmt.Sprintf("results from %s, overdue since %s (record_results)", p.Owner, stamp(p.Due))
		}
		return fmt.Sprintf("results from %s by %s (record_results)", p.Owner, stamp(p.Due))
	case CapaImplemented:
		return "the effectiveness check, due at " + stamp(*w.current().CheckDue)
	case CapaVerifying:
		return "the effectiveness check by a process owner (verify)"
	}
	return ""
}

// dueDate reads the plan's due date, an RFC 3339 time in Action.Start.
func dueDate(a Action) (time.Time, error) {
	due, err := time.Parse(time.RFC3339, a.Start)
	if err != nil {
		return time.Time{}, invalid("start (the due date) %q is not an RFC 3339 time", a.Start)
	}
	return due.UTC(), nil
}

func (w *corrective) validate(now time.Time, a Action) error {
	r := w.rec
	who := a.Actor
	staff := who.Has(policy.RoleAgent, policy.RoleAdmin)
	owner := r.Owner != "" && who.ID == r.Owner
	switch a.Action {
	case "confirm", "analyse_cause", "evaluate", "no_action", "plan":
		if !staff && !who.Has(policy.RoleProcessOwner) {
			return forbidden("%s may not %s %s: it needs the agent or process_owner role", who.ID, a.Action, r.ID)
		}
	case "record_results":
		if !owner && !who.Has(policy.RoleProcessOwner, policy.RoleAdmin) {
			return forbidden("%s may not record the results of %s: its owner (%s) or a process owner does", who.ID, r.ID, r.Owner)
		}
	case "verify", "approve_no_action", "reject_no_action":
		if !who.Has(policy.RoleProcessOwner, policy.RoleAdmin) {
			return forbidden("%s may not %s %s: it needs the process_owner role", who.ID, a.Action, r.ID)
		}
	case "comment", "link":
		if !staff && !who.Has(policy.RoleProcessOwner) && !owner && who.ID != r.CreatedBy {
			return forbidden("%s may not %s %s", who.ID, a.Action, r.ID)
		}
	default:
		return invalid("unknown action %q for a corrective action", a.Action)
	}
	within := func(statuses ...string) error {
		return inStatus(r.Status, who, a.Action, "a corrective action", statuses...)
	}
	switch a.Action {
	case "confirm":
		return within(CapaRaised)
	case "analyse_cause":
		if err := within(CapaConfirmed, CapaCauseAnalysed); err != nil {
			return err
		}
		if a.RootCause == "" {
			return invalid("analyse_cause needs a root_cause")
		}
	case "evaluate":
		if err := within(CapaCauseAnalysed); err != nil {
			return err
		}
		if a.NeedsChange == nil || a.Reason == "" {
			return invalid("evaluate needs needs_change (is action needed: true or false) and a reason")
		}
	case "no_action":
		if err := within(CapaRaised, CapaConfirmed, CapaCauseAnalysed, CapaEvaluated); err != nil {
			return err
		}
		if a.Reason == "" {
			return invalid("no_action needs a reason why no action is needed")
		}
	case "approve_no_action", "reject_no_action":
		if err := within(CapaNoActionProposed); err != nil {
			return err
		}
		if p := w.pendingNoAction(); p != nil && p.ProposedBy == who.ID {
			return forbidden("%s proposed that %s needs no action and may not decide on it", who.ID, r.ID)
		}
	case "plan":
		if err := within(CapaEvaluated, CapaPlanned); err != nil {
			return err
		}
		if a.Plan == "" {
			return invalid("plan needs the action decided (plan)")
		}
		if a.Assignee == "" && r.Owner == "" {
			return invalid("plan needs an owner (assignee): %s has none", r.ID)
		}
		due, err := dueDate(a)
		if err != nil {
			return err
		}
		if !due.After(now) {
			return invalid("the due date %s has passed", stamp(due))
		}
	case "record_results":
		if err := within(CapaPlanned); err != nil {
			return err
		}
		if a.Results == "" {
			return invalid("record_results needs the results")
		}
	case "verify":
		if p := w.current(); r.Status == CapaImplemented && p != nil && p.CheckDue != nil {
			return conflict("the effectiveness check of %s is due at %s", r.ID, stamp(*p.CheckDue))
		}
		if err := within(CapaVerifying); err != nil {
			return err
		}
		if p := w.current(); who.ID == p.Owner || who.ID == p.ResultsBy {
			return forbidden("%s owns or recorded the action of %s and may not check its effectiveness", who.ID, r.ID)
		}
		if a.Success == nil || a.Notes == "" {
			return invalid("verify needs success (was the action effective: true or false) and notes")
		}
	case "comment":
		return checkComment(a, r.ID, r.Status == CapaClosed, r.Status)
	case "link":
		return checkLink(a)
	}
	return nil
}

func (w *corrective) apply(ctx workflow.Context, a Action) error {
	now := workflow.Now(ctx).UTC()
	r := &w.rec
	from := r.Status
	d := detail("source", a.Source)
	var notes []activities.Note
	switch a.Action {
	case "confirm":
		r.Confirmation = &Review{Summary: a.Notes, By: a.Actor.ID, At: now}
		d["notes"] = a.Notes
		r.Status = CapaConfirmed
	case "analyse_cause":
		r.RootCause = a.RootCause
		r.Analyses = append(r.Analyses, Review{Summary: a.RootCause, By: a.Actor.ID, At: now})
		d["root_cause"] = a.RootCause
		if from == CapaCauseAnalysed {
			d["revised"] = true
		}
		r.Status = CapaCauseAnalysed
	case "evaluate":
		need := *a.NeedsChange
		r.Evaluations = append(r.Evaluations, CapaEvaluation{Need: need, Reason: a.Reason, By: a.Actor.ID, At: now})
		d["need"], d["reason"] = need, a.Reason
		r.Status = CapaEvaluated
		if !need {
			notes = w.proposeNoAction(a, now)
		}
	case "no_action":
		d["reason"] = a.Reason
		notes = w.proposeNoAction(a, now)
	case "approve_no_action", "reject_no_action":
		p := w.pendingNoAction()
		p.DecidedBy, p.DecidedAt, p.Comment = a.Actor.ID, &now, a.Comment
		d["proposed_by"], d["reason"], d["comment"] = p.ProposedBy, p.Reason, a.Comment
		if a.Action == "approve_no_action" {
			p.Decision = "approved"
			r.Status, r.Closure, r.ClosedAt = CapaClosed, "no_action", &now
			notes = w.notify(a.Actor.ID, "no_action_approved", "closed without action: "+r.Title, false, p.ProposedBy, r.CreatedBy)
		} else {
			p.Decision = "rejected"
			r.Status = p.From
			notes = w.notify(a.Actor.ID, "no_action_rejected", "action is needed after all: "+r.Title, false, p.ProposedBy)
		}
	case "plan":
		due, _ := dueDate(a)
		owner := a.Assignee
		if owner == "" {
			owner = r.Owner
		}
		if a.Group != "" {
			r.Group = a.Group
		}
		r.Owner = owner
		p := CapaPlan{Action: a.Plan, Owner: owner, Group: r.Group, Due: due, By: a.Actor.ID, At: now}
		if from == CapaPlanned {
			// A re-plan: the same action with a new owner or due date; the
			// reminder and escalation start again from it.
			d["previous_due"], d["previous_owner"] = stamp(w.current().Due), w.current().Owner
			*w.current() = p
		} else {
			r.Plans = append(r.Plans, p)
		}
		d["plan"], d["owner"], d["group"], d["due"] = a.Plan, owner, r.Group, stamp(due)
		r.Status = CapaPlanned
		notes = w.notify(a.Actor.ID, "corrective_action_assigned",
			fmt.Sprintf("you own %s, due at %s: %s", r.ID, stamp(due), a.Plan), true, owner)
	case "record_results":
		p := w.current()
		check := now.Add(w.rules.EffectivenessAfter)
		p.Results, p.ResultsBy, p.ImplementedAt, p.CheckDue = a.Results, a.Actor.ID, &now, &check
		d["results"], d["check_due"] = a.Results, stamp(check)
		if now.After(p.Due) {
			d["late"] = true
		}
		r.Status = CapaImplemented
	case "verify":
		p := w.current()
		p.Check = &EffectivenessCheck{Effective: *a.Success, Notes: a.Notes, By: a.Actor.ID, At: now}
		d["effective"], d["notes"] = *a.Success, a.Notes
		if *a.Success {
			r.Status, r.Closure, r.ClosedAt = CapaClosed, "effective", &now
			notes = w.notify(a.Actor.ID, "corrective_action_closed", "verified effective and closed: "+r.Title, false, p.Owner, r.CreatedBy)
		} else {
			// An ineffective action goes back to cause analysis (spec §2.0 (e)).
			r.Status = CapaCauseAnalysed
			notes = w.notify(a.Actor.ID, "corrective_action_ineffective",
				"the action was not effective; back to cause analysis: "+r.Title, true, p.Owner, w.rules.ProcessOwner)
		}
	case "comment":
		commentDetail(a, d)
	case "link":
		applyLink(a, &r.Links, d)
	}
	return w.transition(ctx, a.Actor.ID, a.Action, from, d, notes)
}

// proposeNoAction records a proposal that no action is needed and asks the
// process owner to decide, unless they proposed it themselves.
func (w *corrective) proposeNoAction(a Action, now time.Time) []activities.Note {
	r := &w.rec
	r.NoAction = append(r.NoAction, CapaNoAction{Reason: a.Reason, ProposedBy: a.Actor.ID, ProposedAt: now, From: r.Status})
	r.Status = CapaNoActionProposed
	return w.notify(a.Actor.ID, "no_action_proposed",
		fmt.Sprintf("%s proposes that %s needs no action: %s", a.Actor.ID, r.ID, a.Reason), true, w.rules.ProcessOwner)
}
