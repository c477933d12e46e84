package workflows

import (
	"fmt"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/workflow"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/policy"
)

// Supplier review statuses.
//
//	open ─record─▶ closed
const (
	SrvOpen   = "open"
	SrvClosed = "closed"
)

// Finding is one finding of a supplier review or an internal audit. A
// nonconformity raises a corrective action, whose id Corrective holds.
type Finding struct {
	Summary       string `json:"summary"`
	Nonconformity bool   `json:"nonconformity"`
	// Clause names the requirement not met (an audit criterion, a
	// contract clause).
	Clause     string    `json:"clause,omitempty"`
	Corrective string    `json:"corrective,omitempty"`
	By         string    `json:"by,omitempty"`
	At         time.Time `json:"at"`
}

// SupplierReviewInput opens a review of a supplier for the period [From, To).
type SupplierReviewInput struct {
	ID               string           `json:"id"`
	Num              int64            `json:"num"`
	Supplier         string           `json:"supplier"`
	SupplierName     string           `json:"supplier_name"`
	Contract         SupplierContract `json:"contract"`
	SubcontractorCIs []string         `json:"subcontractor_cis,omitempty"`
	From             time.Time        `json:"from"`
	To               time.Time        `json:"to"`
	Trigger          string           `json:"trigger"`
	Actor            Actor            `json:"actor"`
	OpenDisputes     []Dispute        `json:"open_disputes,omitempty"`
	Rules            SupplierRules    `json:"rules"`
}

// SupplierReview is the record of one supplier review.
type SupplierReview struct {
	ID              string                     `json:"id"`
	Kind            string                     `json:"kind"`
	Title           string                     `json:"title"`
	Status          string                     `json:"status"`
	Supplier        string                     `json:"supplier"`
	SupplierName    string                     `json:"supplier_name"`
	Services        []string                   `json:"services"`
	CIs             []string                   `json:"cis"`
	From            time.Time                  `json:"from"`
	To              time.Time                  `json:"to"`
	Trigger         string                     `json:"trigger"`
	ContractManager string                     `json:"contract_manager"`
	Figures         activities.SupplierFigures `json:"figures"`
	OpenDisputes    []Dispute                  `json:"open_disputes"`
	Due             time.Time                  `json:"due"`
	Overdue         bool                       `json:"overdue"`
	// Escalation: 0 none, 1 the contract manager's manager heard, 2 top
	// management.
	Escalation  int        `json:"escalation"`
	Rating      int        `json:"rating"`
	Decisions   string     `json:"decisions"`
	Findings    []Finding  `json:"findings"`
	Corrective  []string   `json:"corrective_actions"`
	RecordedBy  string     `json:"recorded_by,omitempty"`
	RecordedAt  *time.Time `json:"recorded_at"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	CreatedBy   string     `json:"created_by"`
	WaitingFor  string     `json:"waiting_for"`
	Links       []Link     `json:"links"`
	Description string     `json:"description"`
}

type supplierReview struct {
	rec     SupplierReview
	num     int64
	rules   SupplierRules
	journal journal
	opened  bool
	wake    wake
}

// SupplierReviewWorkflow runs one review of a supplier (clause 7.2): it
// gathers the period's figures (incidents and breaches on the services the
// supplier supports, the achievement of each contract target, the open
// disputes) and asks the contract manager to record the review: findings,
// a rating from 1 to 5 and the decisions taken. Each finding that is a
// nonconformity raises a corrective action. A review not recorded within
// RecordWithin goes to the contract manager's manager, and EscalateAfter
// later to top management.
//
//	record    rating (1–5), decisions, findings ([{summary, nonconformity, clause}])
//	          the contract manager, process_owner, admin
//	comment, link   the contract manager, agent, process_owner, admin
//
// Its own entries (actor "system"): overdue_escalated.
func SupplierReviewWorkflow(ctx workflow.Context, in SupplierReviewInput) error {
	now := workflow.Now(ctx).UTC()
	cis := slices.Concat(in.Contract.CIs, in.SubcontractorCIs)
	var figures activities.SupplierFigures
	var a0 *activities.Activities
	err := workflow.ExecuteLocalActivity(longLocal(ctx), a0.GatherSupplierFigures, activities.FiguresInput{
		Services: in.Contract.Services, CIs: cis, From: in.From, To: in.To, Targets: in.Contract.Targets,
	}).Get(ctx, &figures)
	if err != nil {
		return fmt.Errorf("gather the figures of %s: %w", in.ID, err)
	}
	open := in.OpenDisputes
	if open == nil {
		open = []Dispute{}
	}
	w := &supplierReview{num: in.Num, rules: in.Rules, rec: SupplierReview{
		ID: in.ID, Kind: "supplier-reviews", Title: fmt.Sprintf("Review of %s, %s to %s", in.SupplierName, in.From.Format(time.DateOnly), in.To.Format(time.DateOnly)),
		Status: SrvOpen, Supplier: in.Supplier, SupplierName: in.SupplierName, Services: figures.Services, CIs: cis,
		From: in.From, To: in.To, Trigger: in.Trigger, ContractManager: in.Contract.ContractManager, Figures: figures,
		OpenDisputes: open, Due: now.Add(in.Rules.RecordWithin), Findings: []Finding{}, Corrective: []string{},
		CreatedAt: now, UpdatedAt: now, CreatedBy: in.Actor.ID,
		Links: []Link{{Kind: "suppliers", ID: in.Supplier, Relation: "reviews"}},
	}}
	if w.rec.Services == nil {
		w.rec.Services = []string{}
	}
	proc := process[SupplierReview]{
		record:     func() SupplierReview { return w.rec },
		opened:     func() bool { return w.opened },
		validate:   w.validate,
		apply:      w.apply,
		status:     func() string { return w.rec.Status },
		transition: w.transition,
	}
	if err := registerHandlers(ctx, proc); err != nil {
		return err
	}
	text := fmt.Sprintf("%s is due: record the review of %s by %s", in.ID, in.SupplierName, stamp(w.rec.Due))
	notes := notifyAll(in.ID, in.Actor.ID, "supplier_review_due", text, true, in.Contract.ContractManager, in.Rules.SupplierManager)
	d := detail("trigger", in.Trigger, "supplier", in.Supplier, "incidents", figures.Incidents, "breached", figures.Breached,
		"open_disputes", len(open), "due", stamp(w.rec.Due))
	if err := w.transition(ctx, in.Actor.ID, "open", "", d, notes); err != nil {
		return err
	}
	w.opened = true
	idle := receiveSignals(ctx, proc)
	if err := runTimers(ctx, &w.wake, func() bool { return w.rec.Status == SrvClosed }, w.plan); err != nil {
		return err
	}
	return settle(ctx, idle)
}

// plan: while the review waits to be recorded, the escalation at its due
// time and EscalateAfter later.
func (w *supplierReview) plan() (time.Time, func(workflow.Context) error) {
	if w.rec.Status != SrvOpen {
		return time.Time{}, nil
	}
	switch {
	case w.rec.Escalation == 0:
		return w.rec.Due, w.escalate
	case w.rec.Escalation == 1 && w.rules.EscalateAfter > 0:
		return w.rec.Due.Add(w.rules.EscalateAfter), w.escalate
	}
	return time.Time{}, nil
}

func (w *supplierReview) escalate(ctx workflow.Context) error {
	r := &w.rec
	r.Escalation++
	r.Overdue = true
	level, to := "manager", []string{w.rules.Escalate}
	if to[0] == "" {
		to[0] = w.rules.SupplierManager
	}
	if r.Escalation == 2 || to[0] == "" {
		r.Escalation = 2
		level, to = "top_management", slices.Clone(w.rules.TopManagement)
	}
	var notes []activities.Note
	for _, u := range to {
		if u != "" {
			notes = append(notes, note(u, "supplier_review_overdue", r.ID,
				fmt.Sprintf("%s of %s, for %s to record, was due at %s", r.ID, r.SupplierName, r.ContractManager, stamp(r.Due))))
		}
	}
	d := detail("level", level, "to", to, "contract_manager", r.ContractManager, "due", stamp(r.Due),
		"overdue_by", workflow.Now(ctx).Sub(r.Due).String())
	return w.transition(ctx, systemActor.ID, "overdue_escalated", r.Status, d, notes)
}

func (w *supplierReview) transition(ctx workflow.Context, actor, action, from string, d map[string]any, notes []activities.Note) error {
	now := workflow.Now(ctx).UTC()
	r := &w.rec
	r.UpdatedAt = now
	r.WaitingFor = ""
	if r.Status == SrvOpen {
		r.WaitingFor = fmt.Sprintf("the review by %s, due at %s (record)", r.ContractManager, stamp(r.Due))
	}
	service := ""
	if len(r.Services) == 1 {
		service = r.Services[0]
	}
	err := w.journal.record(ctx, activities.CaseRow{
		ID: r.ID, Kind: r.Kind, Num: w.num, Title: r.Title, Status: r.Status, Service: service,
		Assignee: r.ContractManager, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, UpdatedAt: now,
		Record: marshalRecord(w.rec),
	}, activities.Entry{At: now, Actor: actor, Action: action, From: from, To: r.Status, Detail: d}, notes)
	w.wake.bump()
	return err
}

// checkFindings validates the findings an action records.
func checkFindings(fs []Finding) error {
	for i, f := range fs {
		if f.Summary == "" {
			return invalid("finding %d needs a summary", i+1)
		}
	}
	return nil
}

func (w *supplierReview) validate(a Action) error {
	r := w.rec
	who := a.Actor
	manager := who.ID == r.ContractManager
	owner := who.Has(policy.RoleProcessOwner, policy.RoleAdmin)
	switch a.Action {
	case "record":
		if !manager && !owner {
			return forbidden("%s may not record %s: its contract manager (%s) does", who.ID, r.ID, r.ContractManager)
		}
		if err := inStatus(r.Status, who, a.Action, "a supplier review", SrvOpen); err != nil {
			return err
		}
		if a.Rating < 1 || a.Rating > 5 {
			return invalid("record needs a rating from 1 (poor) to 5 (excellent)")
		}
		if a.Decisions == "" {
			return invalid("record needs the decisions taken")
		}
		return checkFindings(a.Findings)
	case "comment", "link":
		if !manager && !owner && !who.Has(policy.RoleAgent) {
			return forbidden("%s may not %s %s", who.ID, a.Action, r.ID)
		}
		if a.Action == "link" {
			return checkLink(a)
		}
		return checkComment(a, r.ID, false, r.Status)
	}
	return invalid("unknown action %q for a supplier review", a.Action)
}

func (w *supplierReview) apply(ctx workflow.Context, a Action) error {
	now := workflow.Now(ctx).UTC()
	r := &w.rec
	from := r.Status
	d := detail("source", a.Source)
	switch a.Action {
	case "record":
		r.Rating, r.Decisions, r.RecordedBy, r.RecordedAt = a.Rating, a.Decisions, a.Actor.ID, &now
		service := ""
		if len(r.Services) > 0 {
			service = r.Services[0]
		}
		for _, f := range a.Findings {
			f.By, f.At = a.Actor.ID, now
			if f.Nonconformity {
				id, err := raiseCorrective(ctx, CorrectiveSource{Kind: CapaSourceSupplierReview, ID: r.ID},
					fmt.Sprintf("%s (%s): %s", r.SupplierName, r.ID, f.Summary), f.Clause, service, r.ContractManager, a.Actor, w.rules.Corrective)
				if err != nil {
					return err
				}
				f.Corrective = id
				r.Corrective = append(r.Corrective, id)
				r.Links = append(r.Links, Link{Kind: "corrective-actions", ID: id, Relation: "raised"})
			}
			r.Findings = append(r.Findings, f)
		}
		r.Status, r.Overdue = SrvClosed, false
		d["rating"], d["decisions"], d["findings"], d["corrective_actions"] = a.Rating, a.Decisions, len(a.Findings), slices.Clone(r.Corrective)
		if now.After(r.Due) {
			d["late"] = true
		}
		// The supplier keeps the rating of each of its reviews.
		done := Action{Action: "review_recorded", Actor: systemActor, ID: r.ID, Rating: a.Rating, Source: "review " + r.ID}
		if err := workflow.SignalExternalWorkflow(ctx, r.Supplier, "", SignalAct, done).Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("could not tell the supplier of its review", "supplier", r.Supplier, "error", err)
		}
	case "comment":
		commentDetail(a, d)
	case "link":
		applyLink(a, &r.Links, d)
	}
	return w.transition(ctx, a.Actor.ID, a.Action, from, d, nil)
}

// raiseCorrective raises a corrective action for a nonconformity as a child
// workflow the raiser abandons: the action lives on until it is verified,
// and tells its parent when it closes.
func raiseCorrective(ctx workflow.Context, src CorrectiveSource, title, description, service, owner string, by Actor, rules CorrectiveRules) (string, error) {
	var a0 *activities.Activities
	var id activities.NewID
	if err := workflow.ExecuteLocalActivity(longLocal(ctx), a0.NextID, "corrective-actions", "CAPA").Get(ctx, &id); err != nil {
		return "", fmt.Errorf("take a corrective action id: %w", err)
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        id.ID,
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	child := workflow.ExecuteChildWorkflow(cctx, CorrectiveWorkflow, CorrectiveInput{
		ID: id.ID, Num: id.Num, Title: title, Description: description, Service: service,
		Source: src, Actor: by, Owner: owner, Rules: rules,
	})
	if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		return "", fmt.Errorf("start %s: %w", id.ID, err)
	}
	return id.ID, nil
}
