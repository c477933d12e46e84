package cases

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/temporaltest"

	"github.com/kanri-itsm/kanri/store"
	"github.com/kanri-itsm/kanri/workflows"
)

// refusesToOpen fails at once, as a case whose input its workflow refuses.
func refusesToOpen(workflow.Context, string) error {
	return temporal.NewNonRetryableApplicationError("service \"fax\" is not in the catalogue", workflows.ErrInvalid, nil)
}

// neverProjects runs on without projecting its opening, as a case whose
// opening another process's worker projects.
func neverProjects(ctx workflow.Context, _ string) error {
	return workflow.Await(ctx, func() bool { return false })
}

// eagerService is a Service that opens cases eagerly on a real in-process
// Temporal server, with a worker in this process, on a fresh SQLite store.
func eagerService(t *testing.T) (*Service, string) {
	t.Helper()
	quiet := log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	ts := temporaltest.NewServer(temporaltest.WithT(t), temporaltest.WithBaseClientOptions(client.Options{Logger: quiet}))
	const queue = "eager-open"
	ts.NewWorker(queue, func(r worker.Registry) {
		r.RegisterWorkflow(refusesToOpen)
		r.RegisterWorkflow(neverProjects)
	})
	path := filepath.Join(t.TempDir(), "kanri.db")
	st, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &Service{Temporal: ts.GetDefaultClient(), Store: st, TaskQueue: queue, Timeout: 20 * time.Second, EagerOpen: true}, path
}

// projectLater projects the opening of incident id with record rec through
// st after a while, as a worker would; the returned function waits for it.
func projectLater(t *testing.T, st *store.Store, id string, num int64, rec json.RawMessage, after time.Duration) (wait func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(after)
		now := time.Now()
		if err := st.Project(context.Background(), store.Projection{Case: store.Case{
			ID: id, Kind: "incidents", Num: num, Title: "t", Status: "new", CreatedAt: now, UpdatedAt: now, Seq: 1, Record: rec,
		}}); err != nil {
			t.Error(err)
		}
	}()
	return func() { <-done }
}

// A case whose workflow fails before its opening is projected answers with
// the workflow's error, as the update-with-start did, not with a timeout.
func TestEagerOpenReportsAnOpeningThatFailed(t *testing.T) {
	s, _ := eagerService(t)
	began := time.Now()
	_, err := s.start(context.Background(), "INC-000001", refusesToOpen, "")
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("want the workflow's invalid-input error, got %v", err)
	}
	if d := time.Since(began); d > 10*time.Second {
		t.Fatalf("the failure took %s to reach the caller", d)
	}
}

// An opening projected by another process (its worker took the first
// task) is read from the database: no notice reaches this process.
func TestEagerOpenReadsAnOpeningProjectedElsewhere(t *testing.T) {
	s, path := eagerService(t)
	other, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	const id = "INC-000002"
	want := json.RawMessage(`{"id":"INC-000002","status":"new"}`)
	defer projectLater(t, other, id, 2, want, 300*time.Millisecond)()
	got, err := s.start(context.Background(), id, neverProjects, "")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("record %s, want %s", got, want)
	}
	// A second opening under the same id is refused, as before; one that
	// attaches to the running case (a mail delivered twice) reads it.
	_, err = s.start(context.Background(), id, neverProjects, "")
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if !errors.As(err, &started) {
		t.Fatalf("a second case under the same id: %v, want WorkflowExecutionAlreadyStarted", err)
	}
	got, err = s.startWith(context.Background(), id, neverProjects, "", enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING)
	if err != nil || string(got) != string(want) {
		t.Fatalf("attaching to the running case: %s %v", got, err)
	}
}

// In the process whose worker projects the opening, the store's notice
// answers the caller: with the database read put off past the command's
// timeout, only the notice can.
func TestEagerOpenAnswersOnTheStoresNotice(t *testing.T) {
	s, _ := eagerService(t)
	s.openFirstRead = time.Hour
	const id = "INC-000003"
	want := json.RawMessage(`{"id":"INC-000003","status":"new"}`)
	defer projectLater(t, s.Store, id, 3, want, 200*time.Millisecond)()
	got, err := s.start(context.Background(), id, neverProjects, "")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("record %s, want %s", got, want)
	}
}
