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

// Supplier statuses (spec §2.9, clause 7.2).
//
//	active ─terminate, or the contract's end─▶ ended
const (
	SupActive = "active"
	SupEnded  = "ended"
)

// SupplierTarget is a service target of a contract; see
// activities.ServiceTarget.
type SupplierTarget = activities.ServiceTarget

// SupplierContract is the contract with a supplier: what it covers, what it
// depends on, the service targets it commits to, who manages it and how
// often it is reviewed. A sub-contracted supplier works under its lead's
// contract: its contract manager is the lead's.
type SupplierContract struct {
	Scope        string           `json:"scope"`
	Dependencies []string         `json:"dependencies,omitempty"`
	Services     []string         `json:"services,omitempty"`
	CIs          []string         `json:"cis,omitempty"`
	Targets      []SupplierTarget `json:"targets,omitempty"`
	// ContractManager records each review and hears of disputes.
	ContractManager string `json:"contract_manager"`
	// ReviewInterval is a duration ("90d"); empty: the configured default.
	ReviewInterval string `json:"review_interval,omitempty"`
	// End is the contract's end (RFC 3339); empty: open-ended.
	End string `json:"end,omitempty"`
}

// Dispute is a disagreement with a supplier, recorded, worked and closed.
type Dispute struct {
	ID         string     `json:"id"`
	Summary    string     `json:"summary"`
	Status     string     `json:"status"` // open or closed
	OpenedBy   string     `json:"opened_by"`
	OpenedAt   time.Time  `json:"opened_at"`
	Notes      []Review   `json:"notes"`
	Resolution string     `json:"resolution,omitempty"`
	ClosedBy   string     `json:"closed_by,omitempty"`
	ClosedAt   *time.Time `json:"closed_at,omitempty"`
}

// ReviewSummary is what a supplier keeps of one of its reviews.
type ReviewSummary struct {
	ID      string     `json:"id"`
	Trigger string     `json:"trigger"`
	From    time.Time  `json:"from"`
	To      time.Time  `json:"to"`
	Rating  int        `json:"rating,omitempty"`
	Closed  *time.Time `json:"closed_at,omitempty"`
}

// Supplier is the record of a supplier and its contract.
type Supplier struct {
	ID             string           `json:"id"`
	Kind           string           `json:"kind"`
	Title          string           `json:"title"` // the supplier's name
	Description    string           `json:"description"`
	Status         string           `json:"status"`
	Contract       SupplierContract `json:"contract"`
	Lead           string           `json:"lead,omitempty"`
	Subcontractors []string         `json:"subcontractors"`
	// SubcontractorCIs are the sub-contractors' CIs, which this supplier's
	// reviews cover too.
	SubcontractorCIs []string `json:"subcontractor_cis"`
	// ContractChanges lists the changes through which the contract was
	// amended, in order.
	ContractChanges []string        `json:"contract_changes"`
	Disputes        []Dispute       `json:"disputes"`
	Reviews         []ReviewSummary `json:"reviews"`
	NextReview      *time.Time      `json:"next_review"`
	EndReason       string          `json:"end_reason,omitempty"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
	CreatedBy       string          `json:"created_by"`
	WaitingFor      string          `json:"waiting_for"`
	Links           []Link          `json:"links"`
}

// SupplierRules are what a supplier needs of the configuration, copied in
// when it is registered.
type SupplierRules struct {
	// ReviewEvery is the contract's review interval.
	ReviewEvery time.Duration `json:"review_every"`
	// RecordWithin: the contract manager records a review within this of
	// its opening; then Escalate hears, and top management EscalateAfter
	// later.
	RecordWithin  time.Duration `json:"record_within"`
	EscalateAfter time.Duration `json:"escalate_after"`
	// Escalate is the contract manager's manager (or the supplier manager).
	Escalate        string   `json:"escalate,omitempty"`
	SupplierManager string   `json:"supplier_manager,omitempty"`
	TopManagement   []string `json:"top_management,omitempty"`
	// Corrective are the rules of the corrective actions a review raises.
	Corrective CorrectiveRules `json:"corrective"`
}

// SupplierInput registers a supplier. State is set only by continue-as-new:
// the record, the journal and the actions that arrived while the previous
// run was ending.
type SupplierInput struct {
	ID          string           `json:"id"`
	Num         int64            `json:"num"`
	Name        string           `json:"name"`
	Description string           `json:"description"`
	Contract    SupplierContract `json:"contract"`
	Lead        string           `json:"lead,omitempty"`
	Actor       Actor            `json:"actor"`
	Rules       SupplierRules    `json:"rules"`
	State       *SupplierState   `json:"state,omitempty"`
}

// SupplierState carries a supplier from one run to the next.
type SupplierState struct {
	Record  Supplier  `json:"record"`
	Seq     int64     `json:"seq"`
	Pending []Action  `json:"pending,omitempty"`
	Since   time.Time `json:"since"` // the start of the next scheduled review's period
}

type supplier struct {
	rec     Supplier
	num     int64
	rules   SupplierRules
	journal journal
	opened  bool
	wake    wake
	since   time.Time
	// reviewed: this run opened its scheduled review. Each run opens one
	// and continues as new, so a supplier's history stays short however
	// many years its contract runs.
	reviewed bool
}

// SupplierWorkflow runs one supplier for the life of its contract: it
// sleeps until each periodic review is due, opens the review (a child
// workflow, SupplierReviewWorkflow) and continues as new, so it can run for
// years on a short history. It records disputes and contract amendments
// (each through a completed change, which the command layer checks).
//
//	trigger_review   notes (optional)                     the contract manager, process_owner, admin
//	amend_contract   contract (the whole new contract), id (the completed change)
//	                                                      process_owner, admin
//	record_dispute   summary                              agent, process_owner, admin, the contract manager
//	work_dispute     dispute (its id, D1…), notes         likewise
//	close_dispute    dispute, resolution                  likewise
//	terminate        reason                               process_owner, admin
//	comment, link                                          agent, process_owner, admin, the contract manager
//
// Its own entries (actor "system"): review_opened, subcontractor_added,
// review_recorded, contract_ended.
func SupplierWorkflow(ctx workflow.Context, in SupplierInput) error {
	now := workflow.Now(ctx).UTC()
	w := &supplier{num: in.Num, rules: in.Rules}
	fresh := in.State == nil
	if fresh {
		w.rec = Supplier{
			ID: in.ID, Kind: "suppliers", Title: in.Name, Description: in.Description, Status: SupActive,
			Contract: in.Contract, Lead: in.Lead, Subcontractors: []string{}, SubcontractorCIs: []string{}, ContractChanges: []string{},
			Disputes: []Dispute{}, Reviews: []ReviewSummary{}, CreatedAt: now, UpdatedAt: now,
			CreatedBy: in.Actor.ID, Links: []Link{},
		}
		if in.Lead != "" {
			w.rec.Links = append(w.rec.Links, Link{Kind: "suppliers", ID: in.Lead, Relation: "lead_supplier"})
		}
		w.since = now
	} else {
		w.rec, w.journal.Seq, w.since = in.State.Record, in.State.Seq, in.State.Since
		w.opened = true
	}
	proc := process[Supplier]{
		record:     func() Supplier { return w.rec },
		opened:     func() bool { return w.opened },
		validate:   w.validate,
		apply:      w.apply,
		status:     func() string { return w.rec.Status },
		transition: w.transition,
	}
	if err := registerHandlers(ctx, proc); err != nil {
		return err
	}
	if fresh {
		w.rec.NextReview = w.firstReview(now)
		d := detail("contract_manager", in.Contract.ContractManager, "lead", in.Lead, "scope", in.Contract.Scope)
		notes := notifyAll(in.ID, in.Actor.ID, "supplier_registered", "supplier registered: "+in.Name, false,
			in.Contract.ContractManager, in.Rules.SupplierManager)
		if err := w.transition(ctx, in.Actor.ID, "open", "", d, notes); err != nil {
			return err
		}
		w.opened = true
		if in.Lead != "" {
			// The lead's record lists its sub-contractors, whose CIs and
			// services its reviews then cover.
			add := Action{Action: "add_subcontractor", Actor: systemActor, ID: in.ID, CIs: in.Contract.CIs,
				Title: in.Name, Source: "supplier " + in.ID}
			if err := workflow.SignalExternalWorkflow(ctx, in.Lead, "", SignalAct, add).Get(ctx, nil); err != nil {
				workflow.GetLogger(ctx).Warn("could not tell the lead supplier of its sub-contractor", "lead", in.Lead, "error", err)
			}
		}
	} else {
		for _, a := range in.State.Pending {
			applySignalled(ctx, proc, a)
		}
	}
	idle := receiveSignals(ctx, proc)
	ended := func() bool { return w.rec.Status == SupEnded || w.reviewed }
	if err := runTimers(ctx, &w.wake, ended, w.plan); err != nil {
		return err
	}
	if err := settle(ctx, idle); err != nil {
		return err
	}
	if w.rec.Status == SupEnded {
		return nil
	}
	// Continue as new with what arrived meanwhile: the signal receiver is
	// idle, and this coroutine does not yield again before the run ends,
	// so nothing is lost between draining the channel and the new run.
	signals := workflow.GetSignalChannel(ctx, SignalAct)
	st := &SupplierState{Record: w.rec, Seq: w.journal.Seq, Since: w.since}
	for {
		var a Action
		if !signals.ReceiveAsync(&a) {
			break
		}
		st.Pending = append(st.Pending, a)
	}
	// The rules go on as this run left them: an amended contract changed
	// the review interval and the escalation manager.
	next := in
	next.Rules, next.State = w.rules, st
	return workflow.NewContinueAsNewError(ctx, SupplierWorkflow, next)
}

// firstReview is the first review's due time: one interval after the
// registration, unless the contract ends before.
func (w *supplier) firstReview(now time.Time) *time.Time {
	if w.rules.ReviewEvery <= 0 || w.rec.Lead != "" {
		// A sub-contractor is reviewed within its lead's reviews.
		return nil
	}
	t := now.Add(w.rules.ReviewEvery)
	return &t
}

// contractEnd is the contract's end, if it has one.
func (w *supplier) contractEnd() (time.Time, bool) {
	if w.rec.Contract.End == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, w.rec.Contract.End)
	return t.UTC(), err == nil
}

// plan is the supplier's next deadline: the end of its contract or its next
// review, whichever comes first.
func (w *supplier) plan() (time.Time, func(workflow.Context) error) {
	if w.rec.Status != SupActive {
		return time.Time{}, nil
	}
	end, hasEnd := w.contractEnd()
	if next := w.rec.NextReview; next != nil && (!hasEnd || next.Before(end)) {
		return *next, w.scheduledReview
	}
	if hasEnd {
		return end, w.endContract
	}
	return time.Time{}, nil
}

func (w *supplier) scheduledReview(ctx workflow.Context) error {
	now := workflow.Now(ctx).UTC()
	next := w.rec.NextReview.Add(w.rules.ReviewEvery)
	if !next.After(now) {
		// The worker was down past a whole interval: one review covers the
		// gap, and the cycle goes on from now.
		next = now.Add(w.rules.ReviewEvery)
	}
	w.rec.NextReview = &next
	if err := w.openReview(ctx, systemActor, "schedule"); err != nil {
		return err
	}
	w.reviewed = true
	return nil
}

func (w *supplier) endContract(ctx workflow.Context) error {
	from := w.rec.Status
	w.rec.Status, w.rec.NextReview, w.rec.EndReason = SupEnded, nil, "contract ended"
	notes := notifyAll(w.rec.ID, systemActor.ID, "supplier_contract_ended", "the contract with "+w.rec.Title+" has ended", false,
		w.rec.Contract.ContractManager, w.rules.SupplierManager)
	return w.transition(ctx, systemActor.ID, "contract_ended", from, detail("end", w.rec.Contract.End), notes)
}

// openReview starts the review of the period since the last one, as a
// child workflow the supplier abandons: a review lives on however the
// supplier's runs continue.
func (w *supplier) openReview(ctx workflow.Context, by Actor, trigger string) error {
	var a0 *activities.Activities
	var id activities.NewID
	if err := workflow.ExecuteLocalActivity(longLocal(ctx), a0.NextID, "supplier-reviews", "SRV").Get(ctx, &id); err != nil {
		return fmt.Errorf("take a supplier review id: %w", err)
	}
	now := workflow.Now(ctx).UTC()
	from := w.since
	w.since = now
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        id.ID,
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	var open []Dispute
	for _, d := range w.rec.Disputes {
		if d.Status == "open" {
			open = append(open, d)
		}
	}
	child := workflow.ExecuteChildWorkflow(cctx, SupplierReviewWorkflow, SupplierReviewInput{
		ID: id.ID, Num: id.Num, Supplier: w.rec.ID, SupplierName: w.rec.Title, Contract: w.rec.Contract,
		SubcontractorCIs: slices.Clone(w.rec.SubcontractorCIs), From: from, To: now, Trigger: trigger, Actor: by,
		OpenDisputes: open, Rules: w.rules,
	})
	if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		return fmt.Errorf("start %s: %w", id.ID, err)
	}
	w.rec.Reviews = append(w.rec.Reviews, ReviewSummary{ID: id.ID, Trigger: trigger, From: from, To: now})
	w.rec.Links = append(w.rec.Links, Link{Kind: "supplier-reviews", ID: id.ID, Relation: "review"})
	d := detail("review", id.ID, "trigger", trigger, "from", stamp(from), "to", stamp(now))
	if w.rec.NextReview != nil {
		d["next_review"] = stamp(*w.rec.NextReview)
	}
	return w.transition(ctx, by.ID, "review_opened", w.rec.Status, d, nil)
}

func (w *supplier) transition(ctx workflow.Context, actor, action, from string, d map[string]any, notes []activities.Note) error {
	now := workflow.Now(ctx).UTC()
	r := &w.rec
	r.UpdatedAt = now
	r.WaitingFor = ""
	if r.Status == SupActive && r.NextReview != nil {
		r.WaitingFor = "the next review, due at " + stamp(*r.NextReview)
	}
	err := w.journal.record(ctx, activities.CaseRow{
		ID: r.ID, Kind: r.Kind, Num: w.num, Title: r.Title, Status: r.Status, Assignee: r.Contract.ContractManager,
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, UpdatedAt: now, Record: marshalRecord(w.rec),
	}, activities.Entry{At: now, Actor: actor, Action: action, From: from, To: r.Status, Detail: d}, notes)
	w.wake.bump()
	return err
}

func (w *supplier) dispute(id string) *Dispute {
	i := slices.IndexFunc(w.rec.Disputes, func(d Dispute) bool { return d.ID == id })
	if i < 0 {
		return nil
	}
	return &w.rec.Disputes[i]
}

func (w *supplier) validate(a Action) error {
	r := w.rec
	who := a.Actor
	manager := who.ID == r.Contract.ContractManager
	owner := who.Has(policy.RoleProcessOwner, policy.RoleAdmin)
	system := who.ID == systemActor.ID
	switch a.Action {
	case "trigger_review":
		if !manager && !owner {
			return forbidden("%s may not trigger a review of %s: its contract manager or a process owner does", who.ID, r.ID)
		}
	case "amend_contract", "terminate":
		if !owner {
			return forbidden("%s may not %s %s: it needs the process_owner role", who.ID, a.Action, r.ID)
		}
	case "record_dispute", "work_dispute", "close_dispute", "comment", "link":
		if !manager && !owner && !who.Has(policy.RoleAgent) {
			return forbidden("%s may not %s %s", who.ID, a.Action, r.ID)
		}
	case "add_subcontractor", "review_recorded":
		if !system {
			return forbidden("%s is recorded by Kanri itself", a.Action)
		}
	default:
		return invalid("unknown action %q for a supplier", a.Action)
	}
	if r.Status == SupEnded && a.Action != "review_recorded" {
		return conflict("%s has ended: %s", r.ID, r.EndReason)
	}
	switch a.Action {
	case "trigger_review":
		if r.Lead != "" {
			return conflict("%s is a sub-contractor of %s and is reviewed within its lead's reviews", r.ID, r.Lead)
		}
	case "amend_contract":
		if a.Contract == nil || a.ID == "" {
			return invalid("amend_contract needs the contract and the id of the completed change that amended it")
		}
		if slices.Contains(r.ContractChanges, a.ID) {
			return conflict("%s already amended the contract of %s", a.ID, r.ID)
		}
	case "record_dispute":
		if a.Summary == "" {
			return invalid("record_dispute needs a summary")
		}
	case "work_dispute", "close_dispute":
		d := w.dispute(a.Dispute)
		if d == nil {
			return invalid("%s has no dispute %q", r.ID, a.Dispute)
		}
		if d.Status != "open" {
			return conflict("dispute %s of %s is closed", d.ID, r.ID)
		}
		if a.Action == "work_dispute" && a.Notes == "" {
			return invalid("work_dispute needs notes")
		}
		if a.Action == "close_dispute" && a.Resolution == "" {
			return invalid("close_dispute needs a resolution")
		}
	case "terminate":
		if a.Reason == "" {
			return invalid("terminate needs a reason")
		}
	case "comment":
		return checkComment(a, r.ID, false, r.Status)
	case "link":
		return checkLink(a)
	}
	return nil
}

func (w *supplier) apply(ctx workflow.Context, a Action) error {
	now := workflow.Now(ctx).UTC()
	r := &w.rec
	from := r.Status
	d := detail("source", a.Source)
	var notes []activities.Note
	switch a.Action {
	case "trigger_review":
		return w.openReview(ctx, a.Actor, "on_demand")
	case "amend_contract":
		d["change"], d["previous"], d["contract"] = a.ID, r.Contract, *a.Contract
		r.Contract = *a.Contract
		r.ContractChanges = append(r.ContractChanges, a.ID)
		r.Links = append(r.Links, Link{Kind: "changes", ID: a.ID, Relation: "contract_change"})
		if a.Manager != "" {
			w.rules.Escalate = a.Manager
		}
		if every := a.ReviewEvery; every > 0 && every != w.rules.ReviewEvery && r.NextReview != nil {
			// A new interval counts from the last review (or registration).
			next := w.since.Add(every)
			if !next.After(now) {
				next = now
			}
			w.rules.ReviewEvery, r.NextReview = every, &next
		}
	case "record_dispute":
		id := fmt.Sprintf("D%d", len(r.Disputes)+1)
		r.Disputes = append(r.Disputes, Dispute{ID: id, Summary: a.Summary, Status: "open", OpenedBy: a.Actor.ID, OpenedAt: now, Notes: []Review{}})
		d["dispute"], d["summary"] = id, a.Summary
		notes = notifyAll(r.ID, a.Actor.ID, "supplier_dispute", fmt.Sprintf("dispute %s with %s: %s", id, r.Title, a.Summary), true,
			r.Contract.ContractManager, w.rules.SupplierManager)
	case "work_dispute":
		ds := w.dispute(a.Dispute)
		ds.Notes = append(ds.Notes, Review{Summary: a.Notes, By: a.Actor.ID, At: now})
		d["dispute"], d["notes"] = ds.ID, a.Notes
	case "close_dispute":
		ds := w.dispute(a.Dispute)
		ds.Status, ds.Resolution, ds.ClosedBy, ds.ClosedAt = "closed", a.Resolution, a.Actor.ID, &now
		d["dispute"], d["resolution"] = ds.ID, a.Resolution
	case "terminate":
		r.Status, r.NextReview, r.EndReason = SupEnded, nil, a.Reason
		d["reason"] = a.Reason
		notes = notifyAll(r.ID, a.Actor.ID, "supplier_terminated", "the contract with "+r.Title+" is terminated: "+a.Reason, false,
			r.Contract.ContractManager, w.rules.SupplierManager)
	case "add_subcontractor":
		if !slices.Contains(r.Subcontractors, a.ID) {
			r.Subcontractors = append(r.Subcontractors, a.ID)
			r.Links = append(r.Links, Link{Kind: "suppliers", ID: a.ID, Relation: "subcontractor"})
		}
		d["subcontractor"], d["cis"] = a.ID, a.CIs
		for _, ci := range a.CIs {
			if !slices.Contains(r.SubcontractorCIs, ci) {
				r.SubcontractorCIs = append(r.SubcontractorCIs, ci)
			}
		}
	case "review_recorded":
		if i := slices.IndexFunc(r.Reviews, func(s ReviewSummary) bool { return s.ID == a.ID }); i >= 0 {
			r.Reviews[i].Rating, r.Reviews[i].Closed = a.Rating, &now
		}
		d["review"], d["rating"] = a.ID, a.Rating
	case "comment":
		commentDetail(a, d)
	case "link":
		applyLink(a, &r.Links, d)
	}
	return w.transition(ctx, a.Actor.ID, a.Action, from, d, notes)
}
