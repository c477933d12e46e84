package cases

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/store"
	"github.com/kanri-itsm/kanri/workflows"
)

// MaxReportPeriod is the longest period a service report covers: a year,
// leap day included.
const MaxReportPeriod = 366 * 24 * time.Hour

// ParsePeriod reads the period of a report, [from, to). Each bound is an
// RFC 3339 time or a date (YYYY-MM-DD, UTC); a date as to includes its whole
// day, so from=2026-03-01&to=2026-03-31 is March. Without to, the period
// ends now; without from, it starts on the first of the month in which it
// ends (so the default is the month to date, and to=2026-04-01 alone is
// March). An unreadable bound, an empty period or one longer than
// MaxReportPeriod is ErrInvalid.
func ParsePeriod(fromText, toText string, now time.Time) (from, to time.Time, err error) {
	parse := func(name, v string, end bool) (time.Time, error) {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t.UTC(), nil
		}
		if d, err := time.Parse(time.DateOnly, v); err == nil {
			if end {
				d = d.AddDate(0, 0, 1)
			}
			return d, nil
		}
		return time.Time{}, fail(ErrInvalid, "%s %q is neither an RFC 3339 time (2026-03-01T00:00:00Z) nor a date (2026-03-01)", name, v)
	}
	to = now.UTC()
	if toText != "" {
		if to, err = parse("to", toText, true); err != nil {
			return time.Time{}, time.Time{}, err
		}
	}
	if fromText != "" {
		if from, err = parse("from", fromText, false); err != nil {
			return time.Time{}, time.Time{}, err
		}
	} else {
		last := to.Add(-time.Nanosecond)
		from = time.Date(last.Year(), last.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	if !from.Before(to) {
		return time.Time{}, time.Time{}, fail(ErrInvalid, "from %s must be before to %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	if to.Sub(from) > MaxReportPeriod {
		return time.Time{}, time.Time{}, fail(ErrInvalid, "the period from %s to %s is longer than 366 days", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return from, to, nil
}

// ServiceReports returns the reports of the services over [from, to), in
// catalogue order: of every service when service is "", else of that one
// (ErrNotFound when the catalogue lacks it). Agents, admins and process
// owners read every report; a service owner reads the reports of the
// services they own; anyone else is ErrForbidden.
func (s *Service) ServiceReports(ctx context.Context, actor workflows.Actor, service string, from, to time.Time) ([]store.ServiceReport, error) {
	var svcs []store.Service
	for _, sv := range s.Config.Services {
		if service == "" || sv.ID == service {
			svcs = append(svcs, store.Service{ID: sv.ID, Name: sv.Name, Owner: sv.Owner, Active: true})
		}
	}
	if service != "" && len(svcs) == 0 {
		return nil, fail(ErrNotFound, "service %s is not in the service catalogue", service)
	}
	if !actor.Has(policy.RoleAgent, policy.RoleAdmin, policy.RoleProcessOwner) {
		svcs = slices.DeleteFunc(svcs, func(sv store.Service) bool { return sv.Owner != actor.ID })
		if len(svcs) == 0 {
			return nil, fail(ErrForbidden, "%s may not read service reports: it needs the agent, admin or process_owner role, or to own the service", actor.ID)
		}
	}
	reps, err := s.Store.ServiceReports(ctx, svcs, from, to)
	if err != nil {
		return nil, fmt.Errorf("service reports: %w", err)
	}
	return reps, nil
}

// SurveyAnswer is the body of POST /{incidents|requests}/{id}/survey.
type SurveyAnswer struct {
	Score   int    `json:"score"`
	Comment string `json:"comment"`
}

// surveyCase reads the case a survey belongs to: an incident or request.
func (s *Service) surveyCase(ctx context.Context, kind Kind, id string) (store.Case, error) {
	noun := strings.TrimSuffix(kind.Name, "s")
	if !store.SurveyKind(kind.Name) {
		return store.Case{}, fail(ErrNotFound, "%s have no satisfaction survey", kind.Name)
	}
	row, err := s.Store.GetCase(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && row.Kind != kind.Name) {
		return store.Case{}, fail(ErrNotFound, "%s %s does not exist", noun, id)
	}
	if err != nil {
		return store.Case{}, fmt.Errorf("survey of %s: %w", id, err)
	}
	return row, nil
}

// Survey returns the satisfaction survey of a closed incident or request;
// one not closed yet has a survey with status "not_sent". Staff and process
// owners read it, and the case's caller; anyone else is ErrForbidden.
func (s *Service) Survey(ctx context.Context, kind Kind, id string, actor workflows.Actor) (store.Survey, error) {
	row, err := s.surveyCase(ctx, kind, id)
	if err != nil {
		return store.Survey{}, err
	}
	if !actor.Has(policy.RoleAgent, policy.RoleAdmin, policy.RoleProcessOwner) && actor.ID != row.Caller {
		return store.Survey{}, fail(ErrForbidden, "%s may not read the survey of %s: only staff and its caller may", actor.ID, id)
	}
	v, err := s.Store.GetSurvey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Survey{CaseID: row.ID, Kind: row.Kind, Caller: row.Caller, Status: store.SurveyNotSent}, nil
	}
	if err != nil {
		return store.Survey{}, fmt.Errorf("survey of %s: %w", id, err)
	}
	return v, nil
}

// AnswerSurvey records the caller's answer to the survey of a closed
// incident or request: only its caller answers (ErrForbidden), only once it
// is closed and only once (ErrConflict), with a score from 1 to 5
// (ErrInvalid).
func (s *Service) AnswerSurvey(ctx context.Context, kind Kind, id string, actor workflows.Actor, in SurveyAnswer) (store.Survey, error) {
	row, err := s.surveyCase(ctx, kind, id)
	if err != nil {
		return store.Survey{}, err
	}
	if row.Caller == "" || actor.ID != row.Caller {
		return store.Survey{}, fail(ErrForbidden, "%s may not answer the survey of %s: only its caller, %s, may", actor.ID, id, row.Caller)
	}
	if row.Status != "closed" {
		return store.Survey{}, fail(ErrConflict, "%s is %s: its survey is sent when it closes", id, row.Status)
	}
	if err := checkText("comment", in.Comment, false, maxText); err != nil {
		return store.Survey{}, err
	}
	// The store checks the rest in its one guarded write: that a survey
	// was sent, that it is not answered yet, and the score.
	v, err := s.Store.AnswerSurvey(ctx, id, in.Score, in.Comment, time.Now().UTC())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Survey{}, fail(ErrConflict, "%s closed without a survey being sent", id)
	case errors.Is(err, store.ErrSurveyAnswered):
		return store.Survey{}, fail(ErrConflict, "the survey of %s has been answered already", id)
	case errors.Is(err, store.ErrBadScore):
		return store.Survey{}, fail(ErrInvalid, "score must be a whole number from 1 (very dissatisfied) to 5 (very satisfied), not %d", in.Score)
	case err != nil:
		return store.Survey{}, fmt.Errorf("answer the survey of %s: %w", id, err)
	}
	return v, nil
}

// EnsureServiceReports starts the monthly service report cycle
// (workflows.ServiceReportsWorkflow) unless it runs already: call it once
// the workers are up, at every start. The cycle has one fixed id; a start
// finds the running one (its continue-as-new chain counts as running), and
// starts it afresh only if it ended (failed or was terminated).
func (s *Service) EnsureServiceReports(ctx context.Context) error {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	_, err := s.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflows.ServiceReportsWorkflowID,
		TaskQueue:                s.taskQueue(),
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}, workflows.ServiceReportsWorkflow, workflows.ServiceReportsInput{})
	if err != nil {
		return fmt.Errorf("start the monthly service reports: %w", err)
	}
	return nil
}
