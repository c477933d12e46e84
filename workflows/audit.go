package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/policy"
)

// Audit statuses (clause 4.5.4.2).
//
//	planned ─start─▶ in_progress ─report─▶ reported ─(every corrective action closed)─▶ closed
//	in_progress ─report (no nonconformity)─▶ closed
const (
	AudPlanned    = "planned"
	AudInProgress = "in_progress"
	AudReported   = "reported"
	AudClosed     = "closed"
)

// AuditInput opens an internal audit. The command layer has checked that
// the auditor does not audit their own work.
type AuditInput struct {
	ID          string            `json:"id"`
	Num         int64             `json:"num"`
	Programme   string            `json:"programme,omitempty"`
	Title       string            `json:"title"`
	Description string            `json:"description"`
	Scope       policy.AuditScope `json:"scope"`
	Criteria    string            `json:"criteria"`
	Auditor     string            `json:"auditor"`
	Actor       Actor             `json:"actor"`
	Rules       CorrectiveRules   `json:"rules"`
}

// Audit is the record of an internal audit.
type Audit struct {
	ID          string            `json:"id"`
	Kind        string            `json:"kind"`
	Title       string            `json:"title"`
	Description string            `json:"description"`
	Status      string            `json:"status"`
	Programme   string            `json:"programme,omitempty"`
	Scope       policy.AuditScope `json:"scope"`
	Criteria    string            `json:"criteria"`
	Auditor     string            `json:"auditor"`
	Findings    []Finding         `json:"findings"`
	// Actions are the corrective actions the findings raised, with what
	// each last reported.
	Actions    []CaseState `json:"actions"`
	Report     *Review     `json:"report"`
	StartedAt  *time.Time  `json:"started_at"`
	ClosedAt   *time.Time  `json:"closed_at"`
	CreatedAt  time.Time   `json:"created_at"`
	UpdatedAt  time.Time   `json:"updated_at"`
	CreatedBy  string      `json:"created_by"`
	WaitingFor string      `json:"waiting_for"`
	Links      []Link      `json:"links"`
}

type audit struct {
	rec     Audit
	num     int64
	rules   CorrectiveRules
	journal journal
	opened  bool
}

// AuditWorkflow runs one internal audit: the auditor starts it, records
// findings against the criteria (each nonconformity raises a corrective
// action, a child workflow that reports back when it closes) and reports.
// The audit closes when it is reported and every corrective action it
// raised is closed, so an open audit says what is still unverified.
//
//	start              (no fields)                           the auditor
//	record_finding     findings ([{summary, nonconformity, clause}])  the auditor
//	report             summary                               the auditor
//	reassign_auditor   assignee (checked for independence by the command layer)
//	                                                         process_owner, admin; before the report
//	comment, link                                            the auditor, process_owner, admin
//
// Its own entries (actor "system"): corrective_<status> as each action
// reports, and actions_verified when the last one closes.
func AuditWorkflow(ctx workflow.Context, in AuditInput) error {
	now := workflow.Now(ctx).UTC()
	w := &audit{num: in.Num, rules: in.Rules, rec: Audit{
		ID: in.ID, Kind: "audits", Title: in.Title, Description: in.Description, Status: AudPlanned,
		Programme: in.Programme, Scope: in.Scope, Criteria: in.Criteria, Auditor: in.Auditor,
		Findings: []Finding{}, Actions: []CaseState{}, CreatedAt: now, UpdatedAt: now, CreatedBy: in.Actor.ID, Links: []Link{},
	}}
	proc := process[Audit]{
		record:     func() Audit { return w.rec },
		opened:     func() bool { return w.opened },
		validate:   w.validate,
		apply:      w.apply,
		status:     func() string { return w.rec.Status },
		transition: w.transition,
	}
	if err := registerHandlers(ctx, proc); err != nil {
		return err
	}
	notes := notifyAll(in.ID, in.Actor.ID, "audit_planned", fmt.Sprintf("you audit %s against %s", in.Title, in.Criteria), true, in.Auditor)
	d := detail("programme", in.Programme, "auditor", in.Auditor, "criteria", in.Criteria,
		"processes", in.Scope.Processes, "groups", in.Scope.Groups)
	if err := w.transition(ctx, in.Actor.ID, "open", "", d, notes); err != nil {
		return err
	}
	w.opened = true
	idle := receiveSignals(ctx, proc)
	outcomes := workflow.GetSignalChannel(ctx, SignalChildOutcome)
	busy := false
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var st CaseState
			outcomes.Receive(ctx, &st)
			busy = true
			w.actionState(ctx, st)
			busy = false
		}
	})
	if err := workflow.Await(ctx, func() bool { return w.rec.Status == AudClosed }); err != nil {
		return err
	}
	// The last action's report closes the audit: its projection must be
	// written before the run completes.
	return settle(ctx, func() bool { return idle() && !busy })
}

// actionState records what a corrective action reported, and closes the
// reported audit once every action is closed.
func (w *audit) actionState(ctx workflow.Context, st CaseState) {
	r := &w.rec
	i := slices.IndexFunc(r.Actions, func(s CaseState) bool { return s.ID == st.ID })
	if i < 0 {
		return // not one of this audit's actions
	}
	r.Actions[i] = st
	_ = w.transition(ctx, systemActor.ID, "corrective_"+st.Status, r.Status, detail("corrective", st.ID), nil)
	w.closeIfVerified(ctx)
}

// verified reports whether every corrective action of the audit is closed.
func (w *audit) verified() bool {
	return !slices.ContainsFunc(w.rec.Actions, func(s CaseState) bool { return s.Status != CapaClosed })
}

func (w *audit) closeIfVerified(ctx workflow.Context) {
	r := &w.rec
	if r.Status != AudReported || !w.verified() {
		return
	}
	now := workflow.Now(ctx).UTC()
	r.Status, r.ClosedAt = AudClosed, &now
	ids := make([]string, 0, len(r.Actions))
	for _, s := range r.Actions {
		ids = append(ids, s.ID)
	}
	notes := notifyAll(r.ID, systemActor.ID, "audit_closed", r.Title+": every corrective action is verified; the audit is closed", false,
		r.Auditor, w.rules.ProcessOwner)
	_ = w.transition(ctx, systemActor.ID, "actions_verified", AudReported, detail("corrective_actions", ids), notes)
}

func (w *audit) transition(ctx workflow.Context, actor, action, from string, d map[string]any, notes []activities.Note) error {
	now := workflow.Now(ctx).UTC()
	r := &w.rec
	r.UpdatedAt = now
	r.WaitingFor = w.waitingFor()
	return w.journal.record(ctx, activities.CaseRow{
		ID: r.ID, Kind: r.Kind, Num: w.num, Title: r.Title, Status: r.Status, Assignee: r.Auditor,
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, UpdatedAt: now, Record: marshalRecord(w.rec),
	}, activities.Entry{At: now, Actor: actor, Action: action, From: from, To: r.Status, Detail: d}, notes)
}

func (w *audit) waitingFor() string {
	r := w.rec
	switch r.Status {
	case AudPlanned:
		return "the auditor " + r.Auditor + " to start (start)"
	case AudInProgress:
		return "findings and the report by " + r.Auditor + " (record_finding, report)"
	case AudReported:
		var open []string
		for _, s := range r.Actions {
			if s.Status != CapaClosed {
				open = append(open, s.ID)
			}
		}
		return "verification of the corrective actions " + strings.Join(open, ", ")
	}
	return ""
}

func (w *audit) validate(a Action) error {
	r := w.rec
	who := a.Actor
	auditor := who.ID == r.Auditor
	owner := who.Has(policy.RoleProcessOwner, policy.RoleAdmin)
	within := func(statuses ...string) error { return inStatus(r.Status, who, a.Action, "an audit", statuses...) }
	switch a.Action {
	case "start", "record_finding", "report":
		if !auditor {
			return forbidden("%s may not %s %s: its auditor (%s) does", who.ID, a.Action, r.ID, r.Auditor)
		}
	case "reassign_auditor":
		if !owner {
			return forbidden("%s may not reassign the auditor of %s: it needs the process_owner role", who.ID, r.ID)
		}
	case "comment", "link":
		if !auditor && !owner {
			return forbidden("%s may not %s %s", who.ID, a.Action, r.ID)
		}
	default:
		return invalid("unknown action %q for an audit", a.Action)
	}
	switch a.Action {
	case "start":
		return within(AudPlanned)
	case "record_finding":
		if err := within(AudInProgress); err != nil {
			return err
		}
		if len(a.Findings) == 0 {
			return invalid("record_finding needs findings")
		}
		return checkFindings(a.Findings)
	case "report":
		if err := within(AudInProgress); err != nil {
			return err
		}
		if a.Summary == "" {
			return invalid("report needs a summary")
		}
	case "reassign_auditor":
		if err := within(AudPlanned, AudInProgress); err != nil {
			return err
		}
		if a.Assignee == "" || a.Assignee == r.Auditor {
			return invalid("reassign_auditor needs a new auditor (assignee)")
		}
	case "comment":
		return checkComment(a, r.ID, r.Status == AudClosed, r.Status)
	case "link":
		return checkLink(a)
	}
	return nil
}

func (w *audit) apply(ctx workflow.Context, a Action) error {
	now := workflow.Now(ctx).UTC()
	r := &w.rec
	from := r.Status
	d := detail("source", a.Source)
	var notes []activities.Note
	switch a.Action {
	case "start":
		r.Status, r.StartedAt = AudInProgress, &now
	case "record_finding":
		var raised []string
		for _, f := range a.Findings {
			f.By, f.At = a.Actor.ID, now
			if f.Nonconformity {
				owner := ""
				id, err := raiseCorrective(ctx, CorrectiveSource{Kind: CapaSourceAuditFinding, ID: r.ID},
					fmt.Sprintf("%s (%s): %s", r.Title, r.ID, f.Summary), f.Clause, "", owner, a.Actor, w.rules)
				if err != nil {
					return err
				}
				f.Corrective = id
				raised = append(raised, id)
				r.Actions = append(r.Actions, CaseState{ID: id, Status: CapaRaised})
				r.Links = append(r.Links, Link{Kind: "corrective-actions", ID: id, Relation: "raised"})
			}
			r.Findings = append(r.Findings, f)
		}
		d["findings"], d["corrective_actions"] = a.Findings, raised
	case "report":
		r.Report = &Review{Summary: a.Summary, By: a.Actor.ID, At: now}
		r.Status = AudReported
		d["summary"], d["corrective_actions"] = a.Summary, len(r.Actions)
		notes = notifyAll(r.ID, a.Actor.ID, "audit_reported", r.Title+" is reported: "+a.Summary, false, w.rules.ProcessOwner)
	case "reassign_auditor":
		d["previous"], d["auditor"] = r.Auditor, a.Assignee
		r.Auditor = a.Assignee
		notes = notifyAll(r.ID, a.Actor.ID, "audit_planned", fmt.Sprintf("you audit %s against %s", r.Title, r.Criteria), true, a.Assignee)
	case "comment":
		commentDetail(a, d)
	case "link":
		applyLink(a, &r.Links, d)
	}
	if err := w.transition(ctx, a.Actor.ID, a.Action, from, d, notes); err != nil {
		return err
	}
	if a.Action == "report" {
		w.closeIfVerified(ctx)
	}
	return nil
}
