package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/store"
)

// An incident opened through the API is one trace: the HTTP server span,
// the client's (eager) start, the workflow on the worker, and the
// projection activity. And once a workflow has run, the
// Temporal SDK's own metrics are on /metrics beside Kanri's.
func TestTraceAndSDKMetricsOfAnIncident(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := Start(ctx, Options{
		Mode: ModeDev, DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", TemporalPort: AnyTemporalPort,
		TracerProvider: tp, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	base := "http://" + a.Addr()

	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/incidents", strings.NewReader(
		`{"title": "Mail is down", "description": "no mail since 9:00", "service": "email", "impact": "high", "urgency": "high"}`))
	req.Header.Set("Authorization", "Bearer alice-dev-token")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("open incident: %d %s", resp.StatusCode, body)
	}

	type span struct {
		name  string
		kind  trace.SpanKind
		trace trace.TraceID
	}
	spans := func() []span {
		var out []span
		for _, s := range rec.Started() { // ended or not: the workflow's span ends with the case
			out = append(out, span{s.Name(), s.SpanKind(), s.SpanContext().TraceID()})
		}
		return out
	}
	var server span
	wanted := []string{"StartWorkflow:IncidentWorkflow", "RunWorkflow:IncidentWorkflow", "StartActivity:", "RunActivity:"}
	var missing []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		all := spans()
		for _, s := range all {
			if s.kind == trace.SpanKindServer && s.name == "POST /api/v1/incidents" {
				server = s
			}
		}
		missing = missing[:0]
		if !server.trace.IsValid() {
			missing = append(missing, "the HTTP server span POST /api/v1/incidents")
		}
		for _, prefix := range wanted {
			found := false
			for _, s := range all {
				found = found || strings.HasPrefix(s.name, prefix) && s.trace == server.trace
			}
			if !found {
				missing = append(missing, prefix+"* in the HTTP request's trace")
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(missing) > 0 {
		t.Errorf("missing %s; spans: %+v", strings.Join(missing, ", "), spans())
	}
	for _, s := range spans() {
		if s.name == "GET /healthz" || s.name == "GET /metrics" {
			t.Errorf("%s traced", s.name)
		}
	}

	// Kanri's cases project through local activities; a regular activity
	// (as the reports run) reports temporal_activity_* too, through the
	// same client.
	w := worker.New(a.Temporal(), "observability-test", worker.Options{})
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context) (string, error) {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
		var out string
		err := workflow.ExecuteActivity(ctx, "Echo", "pong").Get(ctx, &out)
		return out, err
	}, workflow.RegisterOptions{Name: "Ping"})
	w.RegisterActivityWithOptions(func(_ context.Context, s string) (string, error) { return s, nil }, activity.RegisterOptions{Name: "Echo"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	run, err := a.Temporal().ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: "observability-test"}, "Ping")
	if err != nil {
		t.Fatal(err)
	}
	var pong string
	if err := run.Get(ctx, &pong); err != nil || pong != "pong" {
		t.Fatalf("ping workflow: %q %v", pong, err)
	}

	resp, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"temporal_workflow_task_schedule_to_start_latency_seconds_bucket{",
		"temporal_workflow_task_execution_latency_seconds_count{",
		"temporal_local_activity_execution_latency_seconds_bucket{",
		"temporal_activity_execution_latency_seconds_bucket{",
		"temporal_activity_succeed_endtoend_latency_seconds_sum{",
		"temporal_request_total{",
		`task_queue="kanri"`,
		`activity_type="Project"`,
		`activity_type="Echo"`,
		"kanri_cases_opened_total{",
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", metrics)
	}
}

// Without an OTLP endpoint nothing is installed: no interceptor, the API's
// handler unwrapped.
func TestNoTracingWithoutEndpoint(t *testing.T) {
	tr, err := startTracing(context.Background(), Options{Mode: ModeServer, OTLPProtocol: "grpc"})
	if err != nil || tr != nil {
		t.Fatalf("tracing %v, %v without an endpoint", tr, err)
	}
	if ic := tr.Interceptors(); ic != nil {
		t.Errorf("interceptors %v", ic)
	}
	h := http.NewServeMux()
	if got := tr.Handler(h); got != http.Handler(h) {
		t.Error("the handler was wrapped")
	}
}

func TestSettleProductionSettings(t *testing.T) {
	cfg := policy.Default()
	cfg.Server = policy.Server{
		TemporalTLS: true, TemporalTLSCA: "/file/ca.pem", WorkflowTasks: 7, DBMaxOpenConns: 5,
		DBConnMaxLifetime: policy.Duration(time.Hour), OTLPEndpoint: "http://collector:4317",
	}
	o := Options{Mode: ModeServer, TemporalCA: "/flag/ca.pem", DBMaxIdleConns: 2}
	o.Settle(cfg)
	if !o.TemporalTLS || o.TemporalCA != "/flag/ca.pem" || o.WorkflowTasks != 7 || o.OTLPEndpoint != "http://collector:4317" {
		t.Errorf("file and flags: %+v", o)
	}
	want := store.Pool{MaxOpenConns: 5, MaxIdleConns: 2, ConnMaxLifetime: time.Hour, ConnMaxIdleTime: store.DefaultPool.ConnMaxIdleTime}
	if got := o.pool(); got != want {
		t.Errorf("pool %+v, want %+v", got, want)
	}
	if err := o.check(); err != nil {
		t.Errorf("check: %v", err)
	}
	o.Activities = -1
	if err := o.check(); err == nil || !strings.Contains(err.Error(), "--activities") {
		t.Errorf("a negative concurrency: %v", err)
	}
}

// The pool settings reach PostgreSQL's connection pool.
func TestPoolSettingsReachPostgres(t *testing.T) {
	url := os.Getenv("KANRI_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("KANRI_TEST_POSTGRES_URL is not set")
	}
	o := Options{Mode: ModeMigrate, DatabaseURL: url, DBMaxOpenConns: 5}
	o.Settle(policy.Default())
	s, err := store.OpenWithPool(context.Background(), o.DatabaseURL, o.pool())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.PoolStats()
	if err != nil || st.MaxOpenConnections != 5 {
		t.Errorf("max open connections %d, %v; want 5", st.MaxOpenConnections, err)
	}
}
