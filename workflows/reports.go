package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/kanri-itsm/kanri/activities"
)

// ServiceReportsWorkflowID is the id of the one ServiceReportsWorkflow: a
// start with this id finds the running cycle instead of starting another.
const ServiceReportsWorkflowID = "service-reports"

// ServiceReportsInput carries the cycle from one month to the next.
type ServiceReportsInput struct {
	// Next is when the next reports are issued: the first of a month,
	// 00:00 UTC, each report covering the month before. Zero: the first
	// such instant after the workflow starts.
	Next time.Time `json:"next,omitempty"`
}

// ServiceReportsWorkflow issues the monthly service reports (clause 6.2, spec
// §2.3: reports issued on time). It sleeps on a durable timer until the
// first of the next month, 00:00 UTC, then issues each service's report for
// the month just ended as a case of kind service-reports (RPT-), closed at
// once and sent to the service owner, and continues as new for the
// following month: the history of a run is one month long, however many
// years the cycle runs.
//
// A cycle that wakes late (no worker ran at midnight) issues the month that
// was due at once, and then each month it missed, one run each: no month is
// skipped.
func ServiceReportsWorkflow(ctx workflow.Context, in ServiceReportsInput) error {
	due := in.Next.UTC()
	if due.IsZero() {
		due = nextMonthStart(workflow.Now(ctx))
	}
	if wait := due.Sub(workflow.Now(ctx)); wait > 0 {
		if err := workflow.Sleep(ctx, wait); err != nil {
			return err
		}
	}
	if err := issueServiceReports(ctx, due.AddDate(0, -1, 0), due); err != nil {
		return err
	}
	return workflow.NewContinueAsNewError(ctx, ServiceReportsWorkflow, ServiceReportsInput{Next: nextMonthStart(due)})
}

// nextMonthStart is the first instant of the month after t's, in UTC.
func nextMonthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
}

// reportOptions: reading a month of cases may take a while on a large
// database; an attempt that fails is retried until it succeeds, because a
// report not issued is a report late, never one to drop.
func reportOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        10 * time.Minute,
			NonRetryableErrorTypes: []string{"Invalid", "Unsupported"},
		},
	})
}

// issueServiceReports issues one report per service, by service id.
func issueServiceReports(ctx workflow.Context, from, to time.Time) error {
	var acts *activities.Activities
	var services []activities.ReportService
	if err := workflow.ExecuteActivity(reportOptions(ctx), acts.ReportServices).Get(ctx, &services); err != nil {
		return fmt.Errorf("list the services to report on: %w", err)
	}
	slices.SortFunc(services, func(x, y activities.ReportService) int { return strings.Compare(x.ID, y.ID) })
	for _, svc := range services {
		var id activities.NewID
		if err := workflow.ExecuteLocalActivity(longLocal(ctx), acts.NextID, activities.ServiceReportKind, "RPT").Get(ctx, &id); err != nil {
			return fmt.Errorf("take a report id for %s: %w", svc.ID, err)
		}
		err := workflow.ExecuteActivity(reportOptions(ctx), acts.IssueServiceReport, activities.ServiceReportIssue{
			ID: id.ID, Num: id.Num, Service: svc, From: from, To: to, At: workflow.Now(ctx).UTC(),
		}).Get(ctx, nil)
		if err != nil {
			// A report the store cannot write (bad input) is logged and
			// the others still go out; anything else has been retried
			// already and ends here only on a programming error.
			workflow.GetLogger(ctx).Error("service report not issued", "service", svc.ID, "id", id.ID, "error", err)
		}
	}
	return nil
}
