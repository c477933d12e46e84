package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/workflow"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/store"
)

// Problem statuses (spec §2.11 (e)).
const (
	PrbLogged        = "logged"
	PrbInvestigating = "investigating"
	PrbKnownError    = "known_error"
	PrbResolved      = "resolved"
	PrbClosed        = "closed"
)

// ProblemInput starts a problem. The change approvers are copied in so an
// RFC the problem raises is approved under the rules the problem started
// with.
type ProblemInput struct {
	ID          string            `json:"id"`
	Num         int64             `json:"num"`
	Title       string            `json:"title"`
	Description string            `json:"description"`
	Service     string            `json:"service"`
	Impact      string            `json:"impact"`
	Urgency     string            `json:"urgency"`
	Incidents   []string          `json:"incidents"`
	Actor       Actor             `json:"actor"`
	Source      string            `json:"source"`
	Matrix      policy.Matrix     `json:"matrix"`
	Approvers   map[string]Quorum `json:"approvers"` // by change type
	// ChangeRules is passed on to the RFCs the problem raises.
	ChangeRules policy.ChangeRules `json:"change_rules"`
}

// Problem is the record of a problem.
type Problem struct {
	ID           string     `json:"id"`
	Kind         string     `json:"kind"`
	Title        string     `json:"title"`
	Description  string     `json:"description"`
	Status       string     `json:"status"`
	Service      string     `json:"service"`
	Impact       string     `json:"impact"`
	Urgency      string     `json:"urgency"`
	Priority     string     `json:"priority"`
	Assignee     string     `json:"assignee"`
	Group        string     `json:"group"`
	RootCause    string     `json:"root_cause"`
	Workaround   string     `json:"workaround"`
	KnownErrorAt *time.Time `json:"known_error_at"`
	NeedsChange  bool       `json:"needs_change"`
	RFCs         []string   `json:"rfcs"`
	// RFCStates is the last status each RFC reported.
	RFCStates  []CaseState `json:"rfc_states"`
	Resolution string      `json:"resolution"`
	ResolvedAt *time.Time  `json:"resolved_at"`
	Review     *Review     `json:"review"`
	ClosedAt   *time.Time  `json:"closed_at"`
	CreatedAt  time.Time   `json:"created_at"`
	UpdatedAt  time.Time   `json:"updated_at"`
	CreatedBy  string      `json:"created_by"`
	WaitingFor string      `json:"waiting_for"`
	Links      []Link      `json:"links"`
}

type problem struct {
	rec       Problem
	num       int64
	approvers map[string]Quorum
	rules     policy.ChangeRules
	journal   journal
	opened    bool
	// rfcOpened holds the RFCs that reported their opening in the database.
	rfcOpened map[string]bool
	// awaitOutcome: the problem closes only after its change completed.
	// Problems that started before RFCs reported their outcome keep the
	// old rule, or they could never close.
	awaitOutcome bool
}

// ProblemWorkflow runs one problem from logging to closure. When a CI must
// change, it raises an RFC: a change workflow of its own, started as a
// child that outlives the problem.
func ProblemWorkflow(ctx workflow.Context, in ProblemInput) error {
	now := workflow.Now(ctx).UTC()
	priority, err := in.Matrix.Priority(in.Impact, in.Urgency)
	if err != nil {
		return invalid("%v", err)
	}
	w := &problem{num: in.Num, approvers: in.Approvers, rules: in.ChangeRules, rfcOpened: map[string]bool{}, rec: Problem{
		ID: in.ID, Kind: "problems", Title: in.Title, Description: in.Description, Status: PrbLogged,
		Service: in.Service, Impact: in.Impact, Urgency: in.Urgency, Priority: priority, RFCs: []string{}, RFCStates: []CaseState{},
		CreatedAt: now, UpdatedAt: now, CreatedBy: in.Actor.ID, Links: []Link{},
	}}
	for _, id := range in.Incidents {
		w.rec.Links = append(w.rec.Links, Link{Kind: "incidents", ID: id, Relation: "caused_by_this"})
	}
	w.awaitOutcome = workflow.GetVersion(ctx, "rfc-outcome-gate", workflow.DefaultVersion, 1) == 1
	proc := process[Problem]{
		record:     func() Problem { return w.rec },
		opened:     func() bool { return w.opened },
		validate:   w.validate,
		apply:      w.apply,
		status:     func() string { return w.rec.Status },
		transition: w.transition,
	}
	if err := registerHandlers(ctx, proc); err != nil {
		return err
	}
	d := detail("source", in.Source, "priority", priority)
	if len(in.Incidents) > 0 {
		d["incidents"] = slices.Clone(in.Incidents)
	}
	if err := w.transition(ctx, in.Actor.ID, "open", "", d, nil); err != nil {
		return err
	}
	w.opened = true
	if len(in.Incidents) > 0 && workflow.GetVersion(ctx, "link-incidents", workflow.DefaultVersion, 1) == 1 {
		// Each linked incident shows its problem, and so its known error.
		for _, id := range in.Incidents {
			link := Action{Action: "link", Actor: in.Actor, Kind: "problems", ID: in.ID, Relation: "problem", Source: "problem " + in.ID}
			if err := workflow.SignalExternalWorkflow(ctx, id, "", SignalAct, link).Get(ctx, nil); err != nil {
				workflow.GetLogger(ctx).Warn("could not link an incident to its problem", "incident", id, "error", err)
			}
		}
	}
	idle := receiveSignals(ctx, proc)
	rfcs := workflow.GetSignalChannel(ctx, SignalOpened)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var id string
			rfcs.Receive(ctx, &id)
			w.rfcOpened[id] = true
		}
	})
	outcomes := workflow.GetSignalChannel(ctx, SignalChildOutcome)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var st CaseState
			outcomes.Receive(ctx, &st)
			w.rfcState(ctx, st)
		}
	})
	if err := workflow.Await(ctx, func() bool { return w.rec.Status == PrbClosed }); err != nil {
		return err
	}
	return settle(ctx, idle)
}

func (w *problem) transition(ctx workflow.Context, actor, action, from string, d map[string]any, notes []activities.Note) error {
	now := workflow.Now(ctx).UTC()
	w.rec.UpdatedAt = now
	w.rec.WaitingFor = w.waitingFor()
	return w.journal.recordWith(ctx, activities.ProjectInput{
		Case: activities.CaseRow{
			ID: w.rec.ID, Kind: w.rec.Kind, Num: w.num, Title: w.rec.Title, Status: w.rec.Status,
			Priority: w.rec.Priority, Service: w.rec.Service, Assignee: w.rec.Assignee, Group: w.rec.Group,
			CreatedBy: w.rec.CreatedBy, CreatedAt: w.rec.CreatedAt, UpdatedAt: now, Record: marshalRecord(w.rec),
		},
		Entry:      activities.Entry{At: now, Actor: actor, Action: action, From: from, To: w.rec.Status, Detail: d},
		Notes:      notes,
		KnownError: w.knownError(),
	})
}

// knownError is the problem's entry in the known-error database, once it
// has a root cause: agents find it from an incident by its workaround.
func (w *problem) knownError() *store.KnownError {
	r := w.rec
	if r.KnownErrorAt == nil {
		return nil
	}
	var services []string
	if r.Service != "" {
		services = []string{r.Service}
	}
	return &store.KnownError{ProblemID: r.ID, Title: r.Title, RootCause: r.RootCause, Workaround: r.Workaround,
		Status: r.Status, Services: services, UpdatedAt: r.UpdatedAt}
}

// rfcState records what an RFC reported: the problem waits for the outcome
// of the change it raised.
func (w *problem) rfcState(ctx workflow.Context, st CaseState) {
	r := &w.rec
	i := slices.IndexFunc(r.RFCStates, func(s CaseState) bool { return s.ID == st.ID })
	if i < 0 {
		r.RFCStates = append(r.RFCStates, st)
	} else {
		r.RFCStates[i] = st
	}
	_ = w.transition(ctx, systemActor.ID, "rfc_"+st.Status, r.Status, detail("rfc", st.ID, "success", st.Success), nil)
}

// changeCompleted reports whether one of the problem's RFCs completed
// successfully.
func (w *problem) changeCompleted() bool {
	return slices.ContainsFunc(w.rec.RFCStates, func(s CaseState) bool {
		return s.Success && slices.Contains([]string{ChgCompleted, ChgReviewed, ChgClosed}, s.Status)
	})
}

func (w *problem) waitingFor() string {
	r := w.rec
	switch r.Status {
	case PrbLogged:
		return "investigation"
	case PrbInvestigating:
		return "root cause and workaround (record_known_error)"
	case PrbKnownError:
		if r.NeedsChange && len(r.RFCs) == 0 {
			return "an RFC for the CI change (raise_rfc)"
		}
		return "resolution"
	case PrbResolved:
		if w.awaitOutcome && r.NeedsChange && !w.changeCompleted() {
			return "completion of " + strings.Join(r.RFCs, ", ")
		}
		if r.Review == nil {
			return "review of the resolution's effectiveness"
		}
		return "closure"
	}
	return ""
}

func (w *problem) validate(a Action) error {
	r := w.rec
	who := a.Actor
	staff := who.Has(policy.RoleAgent, policy.RoleAdmin)
	switch a.Action {
	case "review":
		if !who.Has(policy.RoleProcessOwner, policy.RoleAdmin) {
			return forbidden("%s may not review %s: it needs the process_owner role", who.ID, r.ID)
		}
	case "comment", "link":
		if !staff && !who.Has(policy.RoleProcessOwner) {
			return forbidden("%s may not %s %s", who.ID, a.Action, r.ID)
		}
	case "assign", "investigate", "record_known_error", "raise_rfc", "raise_change", "resolve", "close":
		if !staff {
			return forbidden("%s may not %s %s: it needs the agent role", who.ID, a.Action, r.ID)
		}
	default:
		return invalid("unknown action %q for a problem", a.Action)
	}
	within := func(statuses ...string) error { return inStatus(r.Status, who, a.Action, "a problem", statuses...) }
	switch a.Action {
	case "assign":
		if err := within(PrbLogged, PrbInvestigating, PrbKnownError); err != nil {
			return err
		}
		if a.Assignee == "" && a.Group == "" {
			return invalid("assign needs an assignee or a group")
		}
	case "investigate":
		return within(PrbLogged)
	case "record_known_error":
		if err := within(PrbInvestigating, PrbKnownError); err != nil {
			return err
		}
		if a.RootCause == "" {
			return invalid("record_known_error needs a root_cause")
		}
	case "raise_rfc", "raise_change":
		// A resolved problem whose change was rejected or failed raises
		// another one.
		if err := within(PrbInvestigating, PrbKnownError, PrbResolved); err != nil {
			return err
		}
		q, ok := w.approvers[a.Type]
		if !ok || q.Group == "" {
			return invalid("type %q is not one of normal, emergency, major", a.Type)
		}
		if a.BackoutPlan == "" {
			return invalid("raise_rfc needs a backout_plan")
		}
	case "resolve":
		if err := within(PrbInvestigating, PrbKnownError); err != nil {
			return err
		}
		if a.Resolution == "" {
			return invalid("resolve needs a resolution")
		}
		if r.NeedsChange && len(r.RFCs) == 0 {
			return conflict("%s needs a CI change: raise an RFC before resolving it", r.ID)
		}
	case "review":
		if err := within(PrbResolved); err != nil {
			return err
		}
		if a.Summary == "" {
			return invalid("review needs a summary")
		}
	case "close":
		if err := within(PrbResolved); err != nil {
			return err
		}
		if w.awaitOutcome && r.NeedsChange && !w.changeCompleted() {
			return conflict("%s needs a CI change: it closes only once one of its RFCs (%s) has completed", r.ID, strings.Join(r.RFCs, ", "))
		}
		if r.Review == nil {
			return conflict("%s closes only after the review of the resolution's effectiveness", r.ID)
		}
	case "comment":
		return checkComment(a, r.ID, r.Status == PrbClosed, r.Status)
	case "link":
		return checkLink(a)
	}
	return nil
}

func (w *problem) apply(ctx workflow.Context, a Action) error {
	now := workflow.Now(ctx).UTC()
	r := &w.rec
	from := r.Status
	d := detail("source", a.Source)
	switch a.Action {
	case "assign":
		if a.Group != "" {
			r.Group, d["group"] = a.Group, a.Group
		}
		if a.Assignee != "" {
			r.Assignee, d["assignee"] = a.Assignee, a.Assignee
		}
	case "investigate":
		r.Status = PrbInvestigating
		if r.Assignee == "" {
			r.Assignee = a.Actor.ID
		}
	case "record_known_error":
		r.RootCause, r.Workaround = a.RootCause, a.Workaround
		r.NeedsChange = a.NeedsChange != nil && *a.NeedsChange
		if r.KnownErrorAt == nil {
			r.KnownErrorAt = &now
		}
		d["root_cause"], d["workaround"], d["needs_change"] = a.RootCause, a.Workaround, r.NeedsChange
		r.Status = PrbKnownError
	case "raise_rfc", "raise_change":
		id, err := w.raiseRFC(ctx, a)
		if err != nil {
			return err
		}
		r.RFCs = append(r.RFCs, id)
		r.Links = append(r.Links, Link{Kind: "changes", ID: id, Relation: "rfc"})
		d["rfc"], d["type"] = id, a.Type
	case "resolve":
		r.Resolution, r.ResolvedAt, r.Status = a.Resolution, &now, PrbResolved
		d["resolution"] = a.Resolution
	case "review":
		r.Review = &Review{Summary: a.Summary, By: a.Actor.ID, At: now}
		d["summary"] = a.Summary
	case "close":
		r.ClosedAt, r.Status = &now, PrbClosed
	case "comment":
		commentDetail(a, d)
	case "link":
		applyLink(a, &r.Links, d)
	}
	return w.transition(ctx, a.Actor.ID, a.Action, from, d, nil)
}

// raiseRFC takes the next change id and starts the change as a child
// workflow that the problem abandons when it closes: the change has a life
// of its own. The RFC is raised by the person who asked for it, so the
// change's segregation of duties applies to them.
func (w *problem) raiseRFC(ctx workflow.Context, a Action) (string, error) {
	var a0 *activities.Activities
	var id activities.NewID
	lctx := longLocal(ctx)
	if err := workflow.ExecuteLocalActivity(lctx, a0.NextID, "changes", "CHG").Get(ctx, &id); err != nil {
		return "", fmt.Errorf("take a change id: %w", err)
	}
	q := w.approvers[a.Type]
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        id.ID,
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	title := fmt.Sprintf("%s: %s", w.rec.ID, w.rec.Title)
	var services []string
	if w.rec.Service != "" {
		services = []string{w.rec.Service}
	}
	child := workflow.ExecuteChildWorkflow(cctx, ChangeWorkflow, ChangeInput{
		ID: id.ID, Num: id.Num, Title: title, Description: w.rec.RootCause, Type: a.Type,
		Services: services, BackoutPlan: a.BackoutPlan, Actor: a.Actor, Source: "problem " + w.rec.ID,
		Approvers: &q, Rules: changeRules(w.rules, a), CIs: a.CIs, CIUpdates: a.CIUpdates,
	})
	if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		return "", fmt.Errorf("start %s: %w", id.ID, err)
	}
	// Read your writes: raise_rfc answers once the change is in the
	// database, which the change reports by signal. Histories recorded
	// before this wait replay without it.
	if workflow.GetVersion(ctx, "await-rfc-opened", workflow.DefaultVersion, 1) == 1 {
		if err := workflow.Await(ctx, func() bool { return w.rfcOpened[id.ID] }); err != nil {
			return "", err
		}
	}
	return id.ID, nil
}

// changeRules are the problem's own, or, for a problem that started before
// problems carried them, the current ones the command layer attached.
func changeRules(own policy.ChangeRules, a Action) policy.ChangeRules {
	if own.Release.Approvers.Group == "" && a.Rules != nil {
		return *a.Rules
	}
	return own
}
