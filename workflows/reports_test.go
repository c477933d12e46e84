package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/workflows"
)

// rptRun is what one run of the monthly cycle did.
type rptRun struct {
	issued []activities.ServiceReportIssue
	at     []time.Time // the workflow clock at each issue
	next   workflows.ServiceReportsInput
	ended  time.Time
}

// rptIDs hands out report ids across runs, as the store's sequence does.
type rptIDs struct {
	mu   sync.Mutex
	last int64
}

// runServiceReports runs the cycle once, from start, with the catalogue
// services, and returns what it issued and the input it continued as new
// with.
func runServiceReports(t *testing.T, start time.Time, in workflows.ServiceReportsInput, services []activities.ReportService, ids *rptIDs) rptRun {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	var (
		a   *activities.Activities
		mu  sync.Mutex
		run rptRun
	)
	env.OnActivity(a.ReportServices, mock.Anything).Return(services, nil)
	env.OnActivity(a.NextID, mock.Anything, activities.ServiceReportKind, "RPT").Return(
		func(_ context.Context, _, prefix string) (activities.NewID, error) {
			ids.mu.Lock()
			defer ids.mu.Unlock()
			ids.last++
			return activities.NewID{ID: fmt.Sprintf("%s-%06d", prefix, ids.last), Num: ids.last}, nil
		})
	env.OnActivity(a.IssueServiceReport, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ServiceReportIssue) error {
			mu.Lock()
			defer mu.Unlock()
			run.issued = append(run.issued, in)
			run.at = append(run.at, env.Now().UTC())
			return nil
		})
	env.ExecuteWorkflow(workflows.ServiceReportsWorkflow, in)
	require.True(t, env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "want continue-as-new, got %v", env.GetWorkflowError())
	require.Equal(t, "ServiceReportsWorkflow", can.WorkflowType.Name)
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &run.next))
	run.ended = env.Now().UTC()
	return run
}

func month(y int, m time.Month) time.Time { return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC) }

// Three months of the cycle, each run continuing as new into the next: on
// the first of each month at midnight UTC, one report per service for the
// month before, in service order, each with its own id.
func TestServiceReportsMonthly(t *testing.T) {
	services := []activities.ReportService{
		{ID: "payroll", Name: "Payroll", Owner: "tess"}, // listed out of order: issued by id
		{ID: "email", Name: "Corporate email", Owner: "mona"},
	}
	ids := &rptIDs{}
	start := time.Date(2026, 3, 15, 10, 30, 0, 0, time.UTC)
	in := workflows.ServiceReportsInput{}
	var num int64
	for i, due := range []time.Time{month(2026, 4), month(2026, 5), month(2026, 6)} {
		run := runServiceReports(t, start, in, services, ids)
		require.Len(t, run.issued, 2, "run %d", i)
		for j, want := range []string{"email", "payroll"} {
			num++
			got := run.issued[j]
			require.Equal(t, want, got.Service.ID, "run %d", i)
			require.Equal(t, fmt.Sprintf("RPT-%06d", num), got.ID)
			require.Equal(t, num, got.Num)
			requireTime(t, due.AddDate(0, -1, 0), got.From, "from, run ", i)
			requireTime(t, due, got.To, "to, run ", i)
			requireTime(t, due, got.At, "issued at, run ", i)
			requireTime(t, due, run.at[j], "the clock at issue, run ", i)
		}
		require.Equal(t, "mona", run.issued[0].Service.Owner)
		requireTime(t, due.AddDate(0, 1, 0), run.next.Next, "next, run ", i)
		requireTime(t, due, run.ended, "run ", i, " ends when it issued")
		// The next run starts where this one continued as new.
		start, in = run.ended, run.next
	}
	require.EqualValues(t, 6, ids.last)
}

// A cycle that wakes after its time (no worker at midnight) issues the
// overdue month at once, and each month it missed after it, one run each.
func TestServiceReportsCatchUp(t *testing.T) {
	services := []activities.ReportService{{ID: "email", Owner: "mona"}}
	ids := &rptIDs{}
	late := time.Date(2026, 6, 10, 9, 0, 0, 0, time.UTC)
	in := workflows.ServiceReportsInput{Next: month(2026, 5)}
	for _, due := range []time.Time{month(2026, 5), month(2026, 6)} {
		run := runServiceReports(t, late, in, services, ids)
		require.Len(t, run.issued, 1)
		requireTime(t, due.AddDate(0, -1, 0), run.issued[0].From)
		requireTime(t, due, run.issued[0].To)
		requireTime(t, late, run.at[0], "issued at once")
		in = run.next
	}
	requireTime(t, month(2026, 7), in.Next)
	// June is due on 1 July: the next run waits for it.
	run := runServiceReports(t, late, in, services, ids)
	requireTime(t, month(2026, 7), run.at[0])
	requireTime(t, month(2026, 6), run.issued[0].From)
}

// Started on the first of a month at midnight exactly, the cycle issues its
// first reports a month later: a month it did not watch is not reported.
func TestServiceReportsStartOnTheFirst(t *testing.T) {
	run := runServiceReports(t, month(2026, 4), workflows.ServiceReportsInput{}, []activities.ReportService{{ID: "email"}}, &rptIDs{})
	requireTime(t, month(2026, 5), run.at[0])
	requireTime(t, month(2026, 4), run.issued[0].From)
}

// With no service in the catalogue the cycle goes on, issuing nothing.
func TestServiceReportsNoServices(t *testing.T) {
	run := runServiceReports(t, time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), workflows.ServiceReportsInput{}, nil, &rptIDs{})
	require.Empty(t, run.issued)
	requireTime(t, month(2027, 1), run.ended)
	requireTime(t, month(2027, 2), run.next.Next)
}
