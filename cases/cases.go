// Package cases holds the case commands that every edge (the HTTP API, the
// email and chat connectors) translates its input into: open, act, get, list
// and history. It checks what needs the directory or the database and hands
// the rest to the case's workflow; it holds no process logic of its own.
package cases

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/store"
	"github.com/kanri-itsm/kanri/workflows"
)

// The errors the edges map to their own terms (HTTP 404, 403, 409, 422, 503).
var (
	ErrNotFound    = errors.New("not found")
	ErrForbidden   = errors.New("forbidden")
	ErrConflict    = errors.New("conflict")
	ErrInvalid     = errors.New("invalid")
	ErrUnavailable = errors.New("unavailable")
)

func fail(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", kind, fmt.Sprintf(format, args...))
}

// Kind describes one kind of case.
type Kind struct {
	Name   string // path segment: "incidents"
	Prefix string // id prefix: "INC"
	// ReadOnly kinds are records Kanri issues itself (the monthly service
	// reports): they are listed, read and have a history, but nobody opens
	// them or acts on them through the API.
	ReadOnly bool
}

// Kinds lists the kinds this build runs.
func Kinds() []Kind {
	return []Kind{{Name: "incidents", Prefix: "INC"}, {Name: "requests", Prefix: "REQ"}, {Name: "changes", Prefix: "CHG"},
		{Name: "problems", Prefix: "PRB"}, {Name: "releases", Prefix: "REL"}, {Name: "corrective-actions", Prefix: "CAPA"},
		{Name: "complaints", Prefix: "CMP"}, {Name: "suppliers", Prefix: "SUP"}, {Name: "supplier-reviews", Prefix: "SRV"},
		{Name: "audits", Prefix: "AUD"}, {Name: "service-reports", Prefix: "RPT", ReadOnly: true}}
}

// KindOf returns the kind named by a path segment.
func KindOf(name string) (Kind, bool) {
	for _, k := range Kinds() {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// Service runs the case commands.
type Service struct {
	Temporal  client.Client
	Store     *store.Store
	Config    *policy.Config
	TaskQueue string
	// Timeout bounds how long a command waits for its workflow (an Update
	// needs a running worker).
	Timeout time.Duration
	// EagerOpen opens cases with an eager start (see startEager). Only for
	// a process whose worker is the only one, as in kanri dev: an eagerly
	// started case stays on the worker of the process that started it (its
	// sticky queue), so across several workers the API's own would take
	// every new case, and added workers none.
	EagerOpen bool
	// openFirstRead is how long an eager opening waits for the store's
	// notice before it reads the database (0: 250 ms); tests lengthen it
	// to show that the notice alone answers.
	openFirstRead time.Duration
}

// Maximum lengths of free text, in characters.
const (
	maxTitle = 300
	maxText  = 64 * 1024
)

// OpenIncident is the body of POST /incidents.
type OpenIncident struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Service     string `json:"service"`
	Impact      string `json:"impact"`
	Urgency     string `json:"urgency"`
	Caller      string `json:"caller"`
}

// OpenRequest is the body of POST /requests.
type OpenRequest struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Item        string `json:"item"`
	Service     string `json:"service"`
	Caller      string `json:"caller"`
}

// OpenProblem is the body of POST /problems.
type OpenProblem struct {
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Service     string   `json:"service"`
	Impact      string   `json:"impact"`
	Urgency     string   `json:"urgency"`
	Incidents   []string `json:"incidents"`
}

// OpenChange is the body of POST /changes.
type OpenChange struct {
	Title          string   `json:"title"`
	Description    string   `json:"description"`
	Type           string   `json:"type"`
	StandardChange string   `json:"standard_change"`
	Services       []string `json:"services"`
	CIs            []string `json:"cis"`
	BackoutPlan    string   `json:"backout_plan"`
	// ServiceAction is "removal" or "transfer" for a change that removes or
	// transfers a service; such a change is always major.
	ServiceAction string                `json:"service_action"`
	CIUpdates     []activities.CIUpdate `json:"ci_updates"`
}

func (s *Service) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	d := s.Timeout
	if d <= 0 {
		d = 30 * time.Second
	}
	return context.WithTimeout(ctx, d)
}

func (s *Service) taskQueue() string {
	if s.TaskQueue != "" {
		return s.TaskQueue
	}
	return workflows.TaskQueue
}

func checkText(field, v string, required bool, limit int) error {
	if required && strings.TrimSpace(v) == "" {
		return fail(ErrInvalid, "%s is required", field)
	}
	if !utf8.ValidString(v) {
		return fail(ErrInvalid, "%s is not valid UTF-8", field)
	}
	if n := utf8.RuneCountInString(v); n > limit {
		return fail(ErrInvalid, "%s is %d characters long; the limit is %d", field, n, limit)
	}
	return nil
}

// checkHeading checks what every new case has: a title and a description.
func checkHeading(title, description string) error {
	return errors.Join(
		checkText("title", title, true, maxTitle),
		checkText("description", description, false, maxText),
	)
}

func (s *Service) knownService(id string) bool {
	return slices.ContainsFunc(s.Config.Services, func(x policy.Service) bool { return x.ID == id })
}

func (s *Service) caller(actor workflows.Actor, caller string) (string, error) {
	if caller == "" || caller == actor.ID {
		return actor.ID, nil
	}
	if !actor.Has(policy.RoleAgent, policy.RoleAdmin) {
		return "", fail(ErrForbidden, "%s may raise cases only for themselves", actor.ID)
	}
	if _, ok := s.Config.UserByID(caller); !ok {
		return "", fail(ErrInvalid, "caller %q is not a known user", caller)
	}
	return caller, nil
}

// OpenIncident logs an incident and returns its record once it is in the
// database. source names the channel (api, email, slack).
func (s *Service) OpenIncident(ctx context.Context, actor workflows.Actor, in OpenIncident, source string) (json.RawMessage, error) {
	return s.openIncident(ctx, "", actor, in, source)
}

// OpenIncidentAs logs an incident under an id the caller reserved before
// (ReserveID), or answers with the incident that id already holds: the
// email connector reserves one id per message, so a message handled twice
// (fetched again after a crash, delivered to two mailboxes) opens one case.
func (s *Service) OpenIncidentAs(ctx context.Context, id string, actor workflows.Actor, in OpenIncident, source string) (json.RawMessage, error) {
	if id == "" {
		return nil, fail(ErrInvalid, "OpenIncidentAs needs a reserved id")
	}
	return s.openIncident(ctx, id, actor, in, source)
}

func (s *Service) openIncident(ctx context.Context, reserved string, actor workflows.Actor, in OpenIncident, source string) (json.RawMessage, error) {
	if err := checkHeading(in.Title, in.Description); err != nil {
		return nil, err
	}
	pol := s.Config.IncidentPolicy()
	if _, err := pol.Matrix.Priority(in.Impact, in.Urgency); err != nil {
		return nil, fail(ErrInvalid, "%v", err)
	}
	if in.Service == "" {
		return nil, fail(ErrInvalid, "service is required")
	}
	if !s.knownService(in.Service) {
		return nil, fail(ErrInvalid, "service %q is not in the service catalogue", in.Service)
	}
	caller, err := s.caller(actor, in.Caller)
	if err != nil {
		return nil, err
	}
	if reserved != "" {
		num, err := numOf(reserved, "INC")
		if err != nil {
			return nil, err
		}
		return s.startOnce(ctx, reserved, workflows.IncidentWorkflow, workflows.IncidentInput{
			ID: reserved, Num: num, Title: strings.TrimSpace(in.Title), Description: in.Description,
			Service: in.Service, Impact: in.Impact, Urgency: in.Urgency, Caller: caller,
			Actor: actor, Source: source, Policy: pol,
		})
	}
	id, num, err := s.Store.NextID(ctx, "incidents", "INC")
	if err != nil {
		return nil, fmt.Errorf("open incident: %w", err)
	}
	return s.start(ctx, id, workflows.IncidentWorkflow, workflows.IncidentInput{
		ID: id, Num: num, Title: strings.TrimSpace(in.Title), Description: in.Description,
		Service: in.Service, Impact: in.Impact, Urgency: in.Urgency, Caller: caller,
		Actor: actor, Source: source, Policy: pol,
	})
}

// OpenRequest records a service request for a catalogue item.
func (s *Service) OpenRequest(ctx context.Context, actor workflows.Actor, in OpenRequest, source string) (json.RawMessage, error) {
	if err := checkHeading(in.Title, in.Description); err != nil {
		return nil, err
	}
	if in.Item == "" {
		return nil, fail(ErrInvalid, "item is required: one of the request catalogue's ids")
	}
	pol, err := s.Config.RequestPolicy(in.Item)
	if err != nil {
		return nil, fail(ErrInvalid, "%v", err)
	}
	if in.Service != "" && !s.knownService(in.Service) {
		return nil, fail(ErrInvalid, "service %q is not in the service catalogue", in.Service)
	}
	caller, err := s.caller(actor, in.Caller)
	if err != nil {
		return nil, err
	}
	id, num, err := s.Store.NextID(ctx, "requests", "REQ")
	if err != nil {
		return nil, fmt.Errorf("open request: %w", err)
	}
	return s.start(ctx, id, workflows.RequestWorkflow, workflows.RequestInput{
		ID: id, Num: num, Title: strings.TrimSpace(in.Title), Description: in.Description,
		Service: in.Service, Caller: caller, Actor: actor, Source: source, Policy: pol,
	})
}

// OpenChange records a request for change. A standard change must name a
// pre-approved change model; any other type takes its approvers from the
// change policy and needs a back-out plan.
func (s *Service) OpenChange(ctx context.Context, actor workflows.Actor, in OpenChange, source string) (json.RawMessage, error) {
	if !actor.Has(policy.RoleAgent, policy.RoleAdmin) {
		return nil, fail(ErrForbidden, "%s may not raise a change: it needs the agent role", actor.ID)
	}
	if err := errors.Join(
		checkHeading(in.Title, in.Description),
		checkText("backout_plan", in.BackoutPlan, in.Type != "standard", maxText),
	); err != nil {
		return nil, err
	}
	var approvers *workflows.Quorum
	switch in.Type {
	case "standard":
		if in.StandardChange == "" {
			return nil, fail(ErrInvalid, "a standard change needs standard_change: one of %s", strings.Join(s.Config.ChangePolicy.StandardChanges, ", "))
		}
		if !slices.Contains(s.Config.ChangePolicy.StandardChanges, in.StandardChange) {
			return nil, fail(ErrInvalid, "standard_change %q is not a pre-approved change model (change_policy.standard_changes)", in.StandardChange)
		}
	case "normal", "emergency", "major":
		if in.StandardChange != "" {
			return nil, fail(ErrInvalid, "standard_change is only for changes of type standard")
		}
		a := s.Config.ChangePolicy.Approvers[in.Type]
		approvers = &workflows.Quorum{Group: a.Group, Quorum: a.Quorum}
	default:
		return nil, fail(ErrInvalid, "type %q is not one of standard, normal, emergency, major", in.Type)
	}
	for _, svc := range in.Services {
		if !s.knownService(svc) {
			return nil, fail(ErrInvalid, "service %q is not in the service catalogue", svc)
		}
	}
	switch in.ServiceAction {
	case "":
	case "removal", "transfer":
		// Spec §2.13: removing or transferring a service is always
		// major-impact, and goes through design and transition.
		if in.Type != "major" {
			return nil, fail(ErrInvalid, "a service %s is always a major change: type must be major", in.ServiceAction)
		}
		if len(in.Services) == 0 {
			return nil, fail(ErrInvalid, "a service %s names the services it removes or transfers", in.ServiceAction)
		}
	default:
		return nil, fail(ErrInvalid, "service_action %q is not one of removal, transfer", in.ServiceAction)
	}
	if err := s.checkCIs(ctx, in.CIs); err != nil {
		return nil, err
	}
	if err := s.checkCIUpdates(ctx, in.CIUpdates); err != nil {
		return nil, err
	}
	id, num, err := s.Store.NextID(ctx, "changes", "CHG")
	if err != nil {
		return nil, fmt.Errorf("open change: %w", err)
	}
	return s.start(ctx, id, workflows.ChangeWorkflow, workflows.ChangeInput{
		ID: id, Num: num, Title: strings.TrimSpace(in.Title), Description: in.Description, Type: in.Type,
		StandardChange: in.StandardChange, Services: in.Services, CIs: in.CIs, BackoutPlan: in.BackoutPlan,
		Actor: actor, Source: source, Approvers: approvers, ServiceAction: in.ServiceAction,
		CIUpdates: in.CIUpdates, Rules: s.Config.ChangeRules(),
	})
}

// OpenProblem records a problem, linked to the incidents it explains.
func (s *Service) OpenProblem(ctx context.Context, actor workflows.Actor, in OpenProblem, source string) (json.RawMessage, error) {
	if !actor.Has(policy.RoleAgent, policy.RoleAdmin) {
		return nil, fail(ErrForbidden, "%s may not record a problem: it needs the agent role", actor.ID)
	}
	if err := checkHeading(in.Title, in.Description); err != nil {
		return nil, err
	}
	pol := s.Config.IncidentPolicy()
	if _, err := pol.Matrix.Priority(in.Impact, in.Urgency); err != nil {
		return nil, fail(ErrInvalid, "%v", err)
	}
	if in.Service != "" && !s.knownService(in.Service) {
		return nil, fail(ErrInvalid, "service %q is not in the service catalogue", in.Service)
	}
	for _, inc := range in.Incidents {
		row, err := s.Store.GetCase(ctx, inc)
		if errors.Is(err, store.ErrNotFound) || (err == nil && row.Kind != "incidents") {
			return nil, fail(ErrInvalid, "incident %s does not exist", inc)
		}
		if err != nil {
			return nil, fmt.Errorf("open problem: %w", err)
		}
	}
	approvers := map[string]workflows.Quorum{}
	for typ, a := range s.Config.ChangePolicy.Approvers {
		approvers[typ] = workflows.Quorum{Group: a.Group, Quorum: a.Quorum}
	}
	id, num, err := s.Store.NextID(ctx, "problems", "PRB")
	if err != nil {
		return nil, fmt.Errorf("open problem: %w", err)
	}
	return s.start(ctx, id, workflows.ProblemWorkflow, workflows.ProblemInput{
		ID: id, Num: num, Title: strings.TrimSpace(in.Title), Description: in.Description, Service: in.Service,
		Impact: in.Impact, Urgency: in.Urgency, Incidents: in.Incidents, Actor: actor, Source: source,
		Matrix: pol.Matrix, Approvers: approvers, ChangeRules: s.Config.ChangeRules(),
	})
}

// ReserveID takes the next id of a kind for a case to be opened later with
// OpenIncidentAs.
func (s *Service) ReserveID(ctx context.Context, kind Kind) (string, error) {
	id, _, err := s.Store.NextID(ctx, kind.Name, kind.Prefix)
	if err != nil {
		return "", fmt.Errorf("reserve a %s id: %w", kind.Name, err)
	}
	return id, nil
}

// numOf reads the sequence number out of a case id.
func numOf(id, prefix string) (int64, error) {
	var n int64
	if _, err := fmt.Sscanf(strings.TrimPrefix(id, prefix+"-"), "%d", &n); err != nil || !strings.HasPrefix(id, prefix+"-") || n <= 0 {
		return 0, fail(ErrInvalid, "%q is not a %s id", id, prefix)
	}
	return n, nil
}

// startOnce is start for a reserved id: a second start attaches to the
// running case, and a case that has ended already is read back.
func (s *Service) startOnce(ctx context.Context, id string, wf any, input any) (json.RawMessage, error) {
	if row, err := s.Store.GetCase(ctx, id); err == nil {
		return row.Record, nil
	}
	rec, err := s.startWith(ctx, id, wf, input, enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING)
	if err == nil {
		return rec, nil
	}
	if row, gerr := s.Store.GetCase(ctx, id); gerr == nil {
		return row.Record, nil
	}
	return nil, err
}

// start starts the case's workflow and waits for its opening to reach the
// database (in the same call, with UpdateWithStart, or with startEager),
// so the caller reads its own write.
func (s *Service) start(ctx context.Context, id string, wf any, input any) (json.RawMessage, error) {
	return s.startWith(ctx, id, wf, input, enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL)
}

func (s *Service) startWith(ctx context.Context, id string, wf any, input any, conflict enumspb.WorkflowIdConflictPolicy) (json.RawMessage, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	if s.EagerOpen {
		return s.startEager(ctx, id, wf, input, conflict)
	}
	op := s.Temporal.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                s.taskQueue(),
		WorkflowIDConflictPolicy: conflict,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, wf, input)
	h, err := s.Temporal.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: op,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateID:     id + "/opened",
			UpdateName:   workflows.UpdateOpened,
			WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	if err != nil {
		return nil, s.workflowError(id, err)
	}
	var rec json.RawMessage
	if err := h.Get(ctx, &rec); err != nil {
		return nil, s.workflowError(id, err)
	}
	return rec, nil
}

// startEager starts the case's workflow with eager start: the engine's
// answer to the start carries the first workflow task to this process's
// worker, which projects the opening within that task, and the store tells
// the waiting caller. This spares the engine the task's dispatch through
// matching and the update's round trip: `kanri bench engine` ran 40 % more
// workflows a second this way, and `kanri bench intake` went from 141-148
// to 171-185 incidents a second, p99 from 367 to 269-281 ms.
//
// The database is read as well, should the projection be written where
// this Store does not announce it (another process sharing the database);
// and a run that ends before its opening is projected answers with its
// error.
func (s *Service) startEager(ctx context.Context, id string, wf any, input any, conflict enumspb.WorkflowIdConflictPolicy) (json.RawMessage, error) {
	projected, stop := s.Store.Watch(id)
	defer stop()
	run, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                s.taskQueue(),
		WorkflowIDConflictPolicy: conflict,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		// An existing run is an error under the FAIL policy, as it is for
		// UpdateWithStart; under USE_EXISTING it is the case to read.
		WorkflowExecutionErrorWhenAlreadyStarted: conflict == enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		EnableEagerStart:                         true,
	}, wf, input)
	if err != nil {
		return nil, s.workflowError(id, err)
	}
	const (
		reread   = 100 * time.Millisecond
		watchRun = time.Second // then also wait on the run, for an opening that failed
	)
	// An opening normally announces itself well before the first read.
	firstRead := cmp.Or(s.openFirstRead, 250*time.Millisecond)
	started := time.Now()
	read := time.NewTimer(firstRead)
	defer read.Stop()
	var ended chan error
	for {
		var runErr error
		select {
		case <-projected:
			projected = nil
		case <-read.C:
			read.Reset(reread)
		case runErr = <-ended:
			if runErr == nil {
				runErr = fmt.Errorf("the run ended before its opening was recorded")
			}
		case <-ctx.Done():
			return nil, s.workflowError(id, ctx.Err())
		}
		row, err := s.Store.GetCase(ctx, id)
		switch {
		case err == nil:
			return row.Record, nil
		case !errors.Is(err, store.ErrNotFound):
			return nil, fmt.Errorf("read the opening of %s: %w", id, err)
		case runErr != nil:
			return nil, s.workflowError(id, runErr)
		}
		if ended == nil && time.Since(started) > watchRun {
			ended = make(chan error, 1)
			go func() { ended <- run.Get(ctx, nil) }()
		}
	}
}

// Act applies an action to a case and returns the record once the
// transition is in the database. requestID, when set, makes a retried
// request (a double click) apply once.
func (s *Service) Act(ctx context.Context, kind Kind, id string, a workflows.Action, requestID string) (json.RawMessage, error) {
	if kind.ReadOnly {
		return nil, fail(ErrConflict, "%s are issued by Kanri and take no actions", kind.Name)
	}
	row, err := s.Store.GetCase(ctx, id)
	// Not canRead: a requester in an approving group acts on cases they
	// did not raise. The workflow's validator decides who may do what.
	if errors.Is(err, store.ErrNotFound) || (err == nil && row.Kind != kind.Name) {
		return nil, fail(ErrNotFound, "%s %s does not exist", strings.TrimSuffix(kind.Name, "s"), id)
	}
	if err != nil {
		return nil, fmt.Errorf("act on %s: %w", id, err)
	}
	if err := s.checkReferences(ctx, a); err != nil {
		return nil, err
	}
	// A contract amendment and a new auditor are checked against the
	// directory and the changes, for those who may make them.
	if a.Actor.Has(policy.RoleProcessOwner, policy.RoleAdmin) {
		switch kind.Name {
		case "suppliers":
			if a, err = s.checkSupplierAction(ctx, row, a); err != nil {
				return nil, err
			}
		case "audits":
			if err := s.checkAuditAction(row, a); err != nil {
				return nil, err
			}
		}
	}
	// What follows reads the CMDB and the change schedule, which only
	// staff may see; the workflow refuses anyone else with a 403.
	staffActor := a.Actor.Has(policy.RoleAgent, policy.RoleAdmin)
	a.Rules = nil
	switch {
	case !staffActor:
	case kind.Name == "changes":
		if a, err = s.checkChangeAction(ctx, row, a); err != nil {
			return nil, err
		}
	case kind.Name == "problems" && (a.Action == "raise_rfc" || a.Action == "raise_change"):
		if err := errors.Join(s.checkCIs(ctx, a.CIs), s.checkCIUpdates(ctx, a.CIUpdates)); err != nil {
			return nil, err
		}
		rules := s.Config.ChangeRules()
		a.Rules = &rules
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	h, err := s.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   id,
		UpdateID:     requestID,
		UpdateName:   workflows.UpdateAct,
		Args:         []any{a},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return nil, s.workflowError(id, err)
	}
	var rec json.RawMessage
	if err := h.Get(ctx, &rec); err != nil {
		return nil, s.workflowError(id, err)
	}
	return rec, nil
}

// checkReferences checks the users, groups and cases an action names: the
// workflow knows only its own policy, not the directory.
func (s *Service) checkReferences(ctx context.Context, a workflows.Action) error {
	user := func(field, id string) error {
		if id == "" {
			return nil
		}
		if _, ok := s.Config.UserByID(id); !ok {
			return fail(ErrInvalid, "%s %q is not a known user", field, id)
		}
		return nil
	}
	if err := errors.Join(user("assignee", a.Assignee), user("manager", a.Manager)); err != nil {
		return err
	}
	if a.Group != "" {
		if _, ok := s.Config.GroupByID(a.Group); !ok {
			return fail(ErrInvalid, "group %q is not a known group", a.Group)
		}
	}
	for _, f := range []struct{ name, v string }{
		{"body", a.Body}, {"reason", a.Reason}, {"resolution", a.Resolution}, {"summary", a.Summary},
		{"improvements", a.Improvements}, {"comment", a.Comment}, {"notes", a.Notes}, {"benefit", a.Benefit},
		{"feasibility", a.Feasibility}, {"cost", a.Cost}, {"security", a.Security},
		{"root_cause", a.RootCause}, {"workaround", a.Workaround}, {"backout_plan", a.BackoutPlan},
		{"plan", a.Plan}, {"removal_plan", a.RemovalPlan}, {"description", a.Description}, {"results", a.Results},
		{"version", a.Version},
	} {
		if err := checkText(f.name, f.v, false, maxText); err != nil {
			return err
		}
	}
	if a.Action == "link" && a.ID != "" {
		if _, ok := KindOf(a.Kind); !ok && a.Kind != "" {
			return fail(ErrInvalid, "link kind %q is not a kind of case", a.Kind)
		}
		row, err := s.Store.GetCase(ctx, a.ID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && row.Kind != a.Kind) {
			return fail(ErrInvalid, "link target %s %s does not exist", a.Kind, a.ID)
		}
		if err != nil {
			return fmt.Errorf("check link target: %w", err)
		}
	}
	return nil
}

// workflowError turns what Temporal said into one of this package's errors.
func (s *Service) workflowError(id string, err error) error {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		switch app.Type() {
		case workflows.ErrForbidden:
			return fail(ErrForbidden, "%s", app.Message())
		case workflows.ErrConflict:
			return fail(ErrConflict, "%s", app.Message())
		case workflows.ErrInvalid:
			return fail(ErrInvalid, "%s", app.Message())
		}
	}
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		// The workflow has ended: the case is closed (or rejected, cancelled).
		return fail(ErrConflict, "%s has ended and takes no more actions", id)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fail(ErrUnavailable, "%s did not answer in time; no worker may be running", id)
	}
	return fmt.Errorf("%s: %w", id, err)
}

// Get returns a case's record. A requester sees only the cases they raised.
func (s *Service) Get(ctx context.Context, kind Kind, id string, actor workflows.Actor) (json.RawMessage, error) {
	row, err := s.Store.GetCase(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (row.Kind != kind.Name || !canRead(actor, row))) {
		return nil, fail(ErrNotFound, "%s %s does not exist", strings.TrimSuffix(kind.Name, "s"), id)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", id, err)
	}
	if kind.Name == "incidents" && actor.Has(policy.RoleAgent, policy.RoleAdmin, policy.RoleProcessOwner) {
		return s.withKnownErrors(ctx, row)
	}
	return row.Record, nil
}

// withKnownErrors shows an agent the known errors of the problems an
// incident is linked to, workaround first: that is what the service desk
// needs while the incident is open (spec §2.11).
func (s *Service) withKnownErrors(ctx context.Context, row store.Case) (json.RawMessage, error) {
	var rec struct {
		Links []workflows.Link `json:"links"`
	}
	if err := json.Unmarshal(row.Record, &rec); err != nil {
		return nil, fmt.Errorf("get %s: %w", row.ID, err)
	}
	var problems []string
	for _, l := range rec.Links {
		if l.Kind == "problems" && !slices.Contains(problems, l.ID) {
			problems = append(problems, l.ID)
		}
	}
	if len(problems) == 0 {
		return row.Record, nil
	}
	known, err := s.Store.KnownErrorsOf(ctx, problems)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", row.ID, err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(row.Record, &m); err != nil {
		return nil, fmt.Errorf("get %s: %w", row.ID, err)
	}
	b, err := json.Marshal(known)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", row.ID, err)
	}
	m["known_errors"] = b
	out, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", row.ID, err)
	}
	return out, nil
}

// canRead: staff and process owners read everything; a requester reads the
// cases they raised or were named caller of.
func canRead(a workflows.Actor, c store.Case) bool {
	if a.Has(policy.RoleAgent, policy.RoleAdmin, policy.RoleProcessOwner) {
		return true
	}
	return c.CreatedBy == a.ID || c.Caller == a.ID
}

// ListQuery filters a list.
type ListQuery = store.ListQuery

// List returns records newest first, and the cursor of the next page.
func (s *Service) List(ctx context.Context, kind Kind, actor workflows.Actor, q ListQuery) ([]json.RawMessage, string, error) {
	q.Kind = kind.Name
	if !actor.Has(policy.RoleAgent, policy.RoleAdmin, policy.RoleProcessOwner) {
		q.RaisedBy = actor.ID
	}
	rows, next, err := s.Store.ListCases(ctx, q)
	if errors.Is(err, store.ErrBadCursor) {
		return nil, "", fail(ErrInvalid, "cursor is not one this server handed out")
	}
	if err != nil {
		return nil, "", fmt.Errorf("list %s: %w", kind.Name, err)
	}
	out := make([]json.RawMessage, len(rows))
	for i, r := range rows {
		out[i] = r.Record
	}
	return out, next, nil
}

// HistoryItem is one entry of a case's history as the API shows it.
type HistoryItem struct {
	Seq    int64           `json:"seq"`
	At     time.Time       `json:"at"`
	Actor  string          `json:"actor"`
	Action string          `json:"action"`
	From   string          `json:"from"`
	To     string          `json:"to"`
	Detail json.RawMessage `json:"detail"`
}

// History returns a case's history, oldest first.
func (s *Service) History(ctx context.Context, kind Kind, id string, actor workflows.Actor) ([]HistoryItem, error) {
	if _, err := s.Get(ctx, kind, id, actor); err != nil {
		return nil, err
	}
	entries, err := s.Store.History(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", id, err)
	}
	out := make([]HistoryItem, len(entries))
	for i, e := range entries {
		d := json.RawMessage(e.Detail)
		if len(d) == 0 {
			d = json.RawMessage("{}")
		}
		out[i] = HistoryItem{Seq: e.Seq, At: e.At, Actor: e.Actor, Action: e.Action, From: e.From, To: e.To, Detail: d}
	}
	return out, nil
}

// OpenCorrective is the body of POST /corrective-actions: a nonconformity
// and where it was found.
type OpenCorrective struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Service     string `json:"service"`
	SourceKind  string `json:"source_kind"`
	SourceID    string `json:"source_id"`
	Owner       string `json:"owner"`
	Group       string `json:"group"`
}

// OpenCorrective raises a corrective action (clause 4.5.5), by hand or from
// the case where the nonconformity was found.
func (s *Service) OpenCorrective(ctx context.Context, actor workflows.Actor, in OpenCorrective, source string) (json.RawMessage, error) {
	if !actor.Has(policy.RoleAgent, policy.RoleAdmin, policy.RoleProcessOwner) {
		return nil, fail(ErrForbidden, "%s may not raise a corrective action: it needs the agent or process_owner role", actor.ID)
	}
	if err := checkHeading(in.Title, in.Description); err != nil {
		return nil, err
	}
	if in.SourceKind == "" {
		in.SourceKind = workflows.CapaSourceManual
	}
	src := workflows.CorrectiveSource{Kind: in.SourceKind, ID: in.SourceID}
	if err := workflows.CheckCorrectiveSource(src); err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			return nil, fail(ErrInvalid, "%s", app.Message())
		}
		return nil, fail(ErrInvalid, "%v", err)
	}
	if in.Service != "" && !s.knownService(in.Service) {
		return nil, fail(ErrInvalid, "service %q is not in the service catalogue", in.Service)
	}
	if in.Owner != "" {
		if _, ok := s.Config.UserByID(in.Owner); !ok {
			return nil, fail(ErrInvalid, "owner %q is not a known user", in.Owner)
		}
	}
	if in.Group != "" {
		if _, ok := s.Config.GroupByID(in.Group); !ok {
			return nil, fail(ErrInvalid, "group %q is not a known group", in.Group)
		}
	}
	id, num, err := s.Store.NextID(ctx, "corrective-actions", "CAPA")
	if err != nil {
		return nil, fmt.Errorf("open corrective action: %w", err)
	}
	return s.start(ctx, id, workflows.CorrectiveWorkflow, workflows.CorrectiveInput{
		ID: id, Num: num, Title: strings.TrimSpace(in.Title), Description: in.Description, Service: in.Service,
		Source: src, Actor: actor, Owner: in.Owner, Group: in.Group, Rules: s.correctiveRules(),
	})
}

// OpenComplaint is the body of POST /complaints.
type OpenComplaint struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Service     string `json:"service"`
	Caller      string `json:"caller"`
}

// OpenComplaint receives a complaint (clause 7.1): from the complainant, or
// logged for them by the service desk.
func (s *Service) OpenComplaint(ctx context.Context, actor workflows.Actor, in OpenComplaint, source string) (json.RawMessage, error) {
	return s.openComplaint(ctx, "", actor, in, source)
}

// OpenComplaintAs receives a complaint under an id reserved before
// (ReserveID), or answers with the complaint that id already holds, as
// OpenIncidentAs does for incidents: a support mailbox routed to
// complaints opens one complaint per mail however often it is read.
func (s *Service) OpenComplaintAs(ctx context.Context, id string, actor workflows.Actor, in OpenComplaint, source string) (json.RawMessage, error) {
	if id == "" {
		return nil, fail(ErrInvalid, "OpenComplaintAs needs a reserved id")
	}
	return s.openComplaint(ctx, id, actor, in, source)
}

func (s *Service) openComplaint(ctx context.Context, reserved string, actor workflows.Actor, in OpenComplaint, source string) (json.RawMessage, error) {
	if err := checkHeading(in.Title, in.Description); err != nil {
		return nil, err
	}
	if in.Service != "" && !s.knownService(in.Service) {
		return nil, fail(ErrInvalid, "service %q is not in the service catalogue", in.Service)
	}
	caller, err := s.caller(actor, in.Caller)
	if err != nil {
		return nil, err
	}
	if caller == actor.ID {
		caller = ""
	}
	imp := s.Config.Improvement
	input := func(id string, num int64) workflows.ComplaintInput {
		return workflows.ComplaintInput{
			ID: id, Num: num, Title: strings.TrimSpace(in.Title), Description: in.Description, Service: in.Service,
			Caller: caller, Actor: actor, Source: source,
			Rules: workflows.ComplaintRules{
				ActionWithin: imp.ComplaintActionWithin.D(), EscalateAfter: imp.EscalateAfter.D(), ResponseWait: imp.ComplaintResponseWait.D(),
				ServiceOwners: s.Config.ServiceOwners(), Manager: imp.Manager, TopManagement: slices.Clone(s.Config.TopManagement), ProcessOwner: imp.ProcessOwner,
			},
		}
	}
	if reserved != "" {
		num, err := numOf(reserved, "CMP")
		if err != nil {
			return nil, err
		}
		return s.startOnce(ctx, reserved, workflows.ComplaintWorkflow, input(reserved, num))
	}
	id, num, err := s.Store.NextID(ctx, "complaints", "CMP")
	if err != nil {
		return nil, fmt.Errorf("open complaint: %w", err)
	}
	return s.start(ctx, id, workflows.ComplaintWorkflow, input(id, num))
}
