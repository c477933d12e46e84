package cases

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/store"
	"github.com/kanri-itsm/kanri/workflows"
)

// OpenSupplier is the body of POST /suppliers.
type OpenSupplier struct {
	Name        string                     `json:"name"`
	Description string                     `json:"description"`
	Contract    workflows.SupplierContract `json:"contract"`
	// Lead is the lead supplier (SUP-…) of a sub-contracted supplier.
	Lead string `json:"lead"`
}

// OpenSupplier registers a supplier with its contract (clause 7.2) and
// starts its review cycle.
func (s *Service) OpenSupplier(ctx context.Context, actor workflows.Actor, in OpenSupplier, source string) (json.RawMessage, error) {
	if !actor.Has(policy.RoleProcessOwner, policy.RoleAdmin) {
		return nil, fail(ErrForbidden, "%s may not register a supplier: it needs the process_owner role", actor.ID)
	}
	if err := errors.Join(checkText("name", in.Name, true, maxTitle), checkText("description", in.Description, false, maxText)); err != nil {
		return nil, err
	}
	if in.Lead != "" {
		lead, err := s.Store.GetCase(ctx, in.Lead)
		if errors.Is(err, store.ErrNotFound) || (err == nil && lead.Kind != "suppliers") {
			return nil, fail(ErrInvalid, "lead supplier %s does not exist", in.Lead)
		}
		if err != nil {
			return nil, fmt.Errorf("read lead supplier: %w", err)
		}
		var rec workflows.Supplier
		if err := json.Unmarshal(lead.Record, &rec); err != nil {
			return nil, fmt.Errorf("read lead supplier %s: %w", in.Lead, err)
		}
		if rec.Lead != "" {
			return nil, fail(ErrInvalid, "%s is itself a sub-contractor of %s: a sub-contractor's lead is a lead supplier", in.Lead, rec.Lead)
		}
		if rec.Status != workflows.SupActive {
			return nil, fail(ErrConflict, "lead supplier %s has ended", in.Lead)
		}
		// A sub-contractor works under its lead's contract.
		if in.Contract.ContractManager == "" {
			in.Contract.ContractManager = rec.Contract.ContractManager
		}
		if in.Contract.ContractManager != rec.Contract.ContractManager {
			return nil, fail(ErrInvalid, "a sub-contractor belongs to its lead's contract, managed by %s", rec.Contract.ContractManager)
		}
	}
	every, err := s.checkContract(ctx, in.Contract)
	if err != nil {
		return nil, err
	}
	id, num, err := s.Store.NextID(ctx, "suppliers", "SUP")
	if err != nil {
		return nil, fmt.Errorf("register supplier: %w", err)
	}
	return s.start(ctx, id, workflows.SupplierWorkflow, workflows.SupplierInput{
		ID: id, Num: num, Name: strings.TrimSpace(in.Name), Description: in.Description,
		Contract: in.Contract, Lead: in.Lead, Actor: actor, Rules: s.supplierRules(every, in.Contract.ContractManager),
	})
}

// supplierRules are the review rules of a contract.
func (s *Service) supplierRules(every time.Duration, contractManager string) workflows.SupplierRules {
	sp := s.Config.Suppliers
	escalate := s.Config.ManagerOf(contractManager)
	if escalate == "" {
		escalate = sp.Manager
	}
	return workflows.SupplierRules{
		ReviewEvery: every, RecordWithin: sp.RecordWithin.D(), EscalateAfter: sp.EscalateAfter.D(),
		Escalate: escalate, SupplierManager: sp.Manager, TopManagement: slices.Clone(s.Config.TopManagement),
		Corrective: s.correctiveRules(),
	}
}

// correctiveRules are the rules of a corrective action raised now.
func (s *Service) correctiveRules() workflows.CorrectiveRules {
	imp := s.Config.Improvement
	return workflows.CorrectiveRules{
		ReminderBefore: imp.ReminderBefore.D(), EscalateAfter: imp.EscalateAfter.D(), EffectivenessAfter: imp.EffectivenessAfter.D(),
		Managers: s.Config.Managers(), TopManagement: slices.Clone(s.Config.TopManagement), ProcessOwner: imp.ProcessOwner,
	}
}

// checkContract validates a contract and returns its review interval. The
// CIs come from the CMDB, the services from the catalogue, and every
// service target is aligned to the customer's SLA: no looser than the SLA's
// target of its priority, and for a service the supplier supports.
func (s *Service) checkContract(ctx context.Context, c workflows.SupplierContract) (time.Duration, error) {
	if err := checkText("contract.scope", c.Scope, true, maxText); err != nil {
		return 0, err
	}
	if c.ContractManager == "" {
		return 0, fail(ErrInvalid, "contract.contract_manager is required")
	}
	if _, ok := s.Config.UserByID(c.ContractManager); !ok {
		return 0, fail(ErrInvalid, "contract.contract_manager %q is not a known user", c.ContractManager)
	}
	for _, svc := range c.Services {
		if !s.knownService(svc) {
			return 0, fail(ErrInvalid, "service %q is not in the service catalogue", svc)
		}
	}
	if err := s.checkCIs(ctx, c.CIs); err != nil {
		return 0, err
	}
	for i, t := range c.Targets {
		path := fmt.Sprintf("contract.targets[%d]", i)
		if !slices.Contains(c.Services, t.Service) {
			return 0, fail(ErrInvalid, "%s: service %q is not one the contract covers (contract.services)", path, t.Service)
		}
		sla, ok := s.Config.SLA.Targets[t.Priority]
		if !ok {
			return 0, fail(ErrInvalid, "%s: priority %q has no SLA target", path, t.Priority)
		}
		for _, f := range []struct {
			name, v  string
			customer time.Duration
		}{{"response", t.Response, sla.Response.D()}, {"resolution", t.Resolution, sla.Resolution.D()}} {
			d, err := policy.ParseDuration(f.v)
			if err != nil || d <= 0 {
				return 0, fail(ErrInvalid, "%s.%s %q is not a duration", path, f.name, f.v)
			}
			if d > f.customer {
				return 0, fail(ErrInvalid, "%s.%s %s is looser than the customer's SLA target of %s for %s: it must be aligned",
					path, f.name, f.v, f.customer, t.Priority)
			}
		}
	}
	every := s.Config.Suppliers.ReviewInterval.D()
	if c.ReviewInterval != "" {
		d, err := policy.ParseDuration(c.ReviewInterval)
		if err != nil || d < time.Second {
			return 0, fail(ErrInvalid, "contract.review_interval %q is not a duration of at least a second", c.ReviewInterval)
		}
		every = d
	}
	if c.End != "" {
		if _, err := time.Parse(time.RFC3339, c.End); err != nil {
			return 0, fail(ErrInvalid, "contract.end %q is not an RFC 3339 time", c.End)
		}
	}
	return every, errors.Join(
		checkText("contract.review_interval", c.ReviewInterval, false, 64),
		checkList("contract.dependencies", c.Dependencies),
	)
}

func checkList(field string, vs []string) error {
	for i, v := range vs {
		if err := checkText(fmt.Sprintf("%s[%d]", field, i), v, true, maxTitle); err != nil {
			return err
		}
	}
	return nil
}

// checkSupplierAction checks what the supplier's workflow cannot: that a
// contract amendment comes through a change that completed, and the
// amended contract itself. It attaches the new review interval and the new
// contract manager's manager, which only amend_contract reads.
func (s *Service) checkSupplierAction(ctx context.Context, row store.Case, a workflows.Action) (workflows.Action, error) {
	if a.Action != "amend_contract" {
		return a, nil
	}
	if a.Contract == nil || a.ID == "" {
		return a, fail(ErrInvalid, "amend_contract needs contract and id (the change that amended it)")
	}
	chg, err := s.Store.GetCase(ctx, a.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && chg.Kind != "changes") {
		return a, fail(ErrInvalid, "change %s does not exist", a.ID)
	}
	if err != nil {
		return a, fmt.Errorf("read change %s: %w", a.ID, err)
	}
	var c workflows.Change
	if err := json.Unmarshal(chg.Record, &c); err != nil {
		return a, fmt.Errorf("read change %s: %w", a.ID, err)
	}
	if !slices.Contains([]string{workflows.ChgCompleted, workflows.ChgReviewed, workflows.ChgClosed}, c.Status) || c.Outcome == nil || !c.Outcome.Success {
		return a, fail(ErrConflict, "a contract changes only through a change that completed successfully: %s is %s", a.ID, c.Status)
	}
	var rec workflows.Supplier
	if err := json.Unmarshal(row.Record, &rec); err != nil {
		return a, fmt.Errorf("read supplier %s: %w", row.ID, err)
	}
	if rec.Lead != "" && a.Contract.ContractManager != rec.Contract.ContractManager {
		return a, fail(ErrInvalid, "a sub-contractor belongs to its lead's contract, managed by %s", rec.Contract.ContractManager)
	}
	every, err := s.checkContract(ctx, *a.Contract)
	if err != nil {
		return a, err
	}
	a.ReviewEvery = every
	a.Manager = s.supplierRules(every, a.Contract.ContractManager).Escalate
	return a, nil
}

// OpenAudit is the body of POST /audits: an audit of the programme by its
// id, or one defined here (title, scope, criteria, auditor).
type OpenAudit struct {
	Programme   string            `json:"programme"`
	Title       string            `json:"title"`
	Description string            `json:"description"`
	Scope       policy.AuditScope `json:"scope"`
	Criteria    string            `json:"criteria"`
	Auditor     string            `json:"auditor"`
}

// OpenAudit plans an internal audit (clause 4.5.4.2). An auditor who owns
// or works in an audited process or group is refused (409): an auditor
// never audits their own work.
func (s *Service) OpenAudit(ctx context.Context, actor workflows.Actor, in OpenAudit, source string) (json.RawMessage, error) {
	if !actor.Has(policy.RoleProcessOwner, policy.RoleAdmin) {
		return nil, fail(ErrForbidden, "%s may not plan an audit: it needs the process_owner role", actor.ID)
	}
	if in.Programme != "" {
		p, ok := s.Config.PlannedAudit(in.Programme)
		if !ok {
			return nil, fail(ErrInvalid, "audit %q is not in the audit programme (audit_programme.audits)", in.Programme)
		}
		if in.Title == "" {
			in.Title = p.Title
		}
		if len(in.Scope.Processes)+len(in.Scope.Groups) == 0 {
			in.Scope = p.Scope
		}
		if in.Criteria == "" {
			in.Criteria = p.Criteria
		}
		if in.Auditor == "" {
			in.Auditor = p.Auditor
		}
	}
	if err := errors.Join(checkHeading(in.Title, in.Description), checkText("criteria", in.Criteria, true, maxText)); err != nil {
		return nil, err
	}
	if len(in.Scope.Processes)+len(in.Scope.Groups) == 0 {
		return nil, fail(ErrInvalid, "scope names no process or group")
	}
	for _, p := range in.Scope.Processes {
		if !slices.ContainsFunc(s.Config.AuditProgramme.Processes, func(x policy.AuditedProcess) bool { return x.ID == p }) {
			return nil, fail(ErrInvalid, "process %q is not in the audit programme (audit_programme.processes)", p)
		}
	}
	for _, g := range in.Scope.Groups {
		if _, ok := s.Config.GroupByID(g); !ok {
			return nil, fail(ErrInvalid, "group %q is not a known group", g)
		}
	}
	if err := s.checkAuditor(in.Auditor, in.Scope); err != nil {
		return nil, err
	}
	id, num, err := s.Store.NextID(ctx, "audits", "AUD")
	if err != nil {
		return nil, fmt.Errorf("plan audit: %w", err)
	}
	return s.start(ctx, id, workflows.AuditWorkflow, workflows.AuditInput{
		ID: id, Num: num, Programme: in.Programme, Title: strings.TrimSpace(in.Title), Description: in.Description,
		Scope: in.Scope, Criteria: in.Criteria, Auditor: in.Auditor, Actor: actor, Rules: s.correctiveRules(),
	})
}

func (s *Service) checkAuditor(auditor string, scope policy.AuditScope) error {
	if auditor == "" {
		return fail(ErrInvalid, "auditor is required")
	}
	if _, ok := s.Config.UserByID(auditor); !ok {
		return fail(ErrInvalid, "auditor %q is not a known user", auditor)
	}
	if why := s.Config.AuditorConflict(auditor, scope); why != "" {
		return fail(ErrConflict, "%s: an auditor may not audit their own work", why)
	}
	return nil
}

// checkAuditAction checks a new auditor's independence, which the audit's
// workflow cannot (it does not know the directory).
func (s *Service) checkAuditAction(row store.Case, a workflows.Action) error {
	if a.Action != "reassign_auditor" || a.Assignee == "" {
		return nil
	}
	var rec workflows.Audit
	if err := json.Unmarshal(row.Record, &rec); err != nil {
		return fmt.Errorf("read audit %s: %w", row.ID, err)
	}
	return s.checkAuditor(a.Assignee, rec.Scope)
}

// OpenSupplierReview is the body of POST /supplier-reviews.
type OpenSupplierReview struct {
	Supplier string `json:"supplier"`
}

// OpenSupplierReview opens a review of the supplier at once, through the
// supplier's trigger_review, and answers with the review once its opening
// is in the database.
func (s *Service) OpenSupplierReview(ctx context.Context, actor workflows.Actor, in OpenSupplierReview, requestID string) (json.RawMessage, error) {
	if in.Supplier == "" {
		return nil, fail(ErrInvalid, "supplier is required")
	}
	kind, _ := KindOf("suppliers")
	raw, err := s.Act(ctx, kind, in.Supplier, workflows.Action{Action: "trigger_review", Actor: actor, Source: "api"}, requestID)
	if err != nil {
		return nil, err
	}
	var sup workflows.Supplier
	if err := json.Unmarshal(raw, &sup); err != nil || len(sup.Reviews) == 0 {
		return nil, fmt.Errorf("open a review of %s: the supplier lists no review", in.Supplier)
	}
	id := sup.Reviews[len(sup.Reviews)-1].ID
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	h, err := s.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateID: id + "/opened", UpdateName: workflows.UpdateOpened,
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
