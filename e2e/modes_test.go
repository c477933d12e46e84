package e2e

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/kanri-itsm/kanri/app"
	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/workflows"
)

// kanri server and kanri worker run the same code against an engine they
// do not own. Here the engine is the embedded one of a kanri dev, standing
// in for a cluster; server and worker use their own task queue and
// database.
func TestServerAndWorkerModes(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts the embedded engine")
	}
	dev := start(t, "", "")
	cfg, err := policy.Parse([]byte(config))
	if err != nil {
		t.Fatal(err)
	}
	dbURL := filepath.Join(t.TempDir(), "server.db")
	if dbs := databases(t); dbs["postgres"] != nil {
		dbURL = dbs["postgres"](t)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	common := app.Options{
		Config: cfg, HTTPAddr: "127.0.0.1:0", TemporalAddress: dev.app.TemporalAddress(),
		TemporalNamespace: "default", TaskQueue: "server-mode", DatabaseURL: dbURL, Logger: logger,
	}

	if err := app.Migrate(ctx, withMode(common, app.ModeMigrate)); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	srv, err := app.Start(ctx, withMode(common, app.ModeServer))
	if err != nil {
		t.Fatalf("kanri server: %v", err)
	}
	defer srv.Close()
	wrk, err := app.Start(ctx, withMode(common, app.ModeWorker))
	if err != nil {
		t.Fatalf("kanri worker: %v", err)
	}
	defer wrk.Close()

	k := &kanri{t: t, app: srv, base: "http://" + srv.Addr()}
	w := &kanri{t: t, app: wrk, base: "http://" + wrk.Addr()}
	w.must(200, "GET", "/readyz", "", nil)
	if r := w.do("GET", "/api/v1/incidents", "alice-token", nil); r.Status != 404 {
		t.Fatalf("a worker serves no API, got %d", r.Status)
	}

	id := newIncident(t, k, "alice-token", "Opened through kanri server", "low", "low")["id"].(string)
	rec := k.act("incidents", id, "alice-token", map[string]any{"action": "start"}).json(t)
	if rec["status"] != "in_progress" {
		t.Fatalf("start through kanri server: %v", rec)
	}
	// The case lives in the server's database, not the dev instance's.
	if r := dev.do("GET", "/api/v1/incidents/"+id, "alice-token", nil); r.Status == 200 && r.json(t)["title"] == "Opened through kanri server" {
		t.Fatal("the dev instance's database holds the server's case")
	}
	// With the server stopped, the worker alone keeps running the case's
	// timers and projections: the resolve below is applied by it.
	srv.Close()
	h, err := dev.app.Temporal().UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: workflows.UpdateAct, WaitForStage: client.WorkflowUpdateStageCompleted,
		Args: []any{workflows.Action{Action: "resolve", Resolution: "done", Actor: workflows.Actor{ID: "alice", Roles: []string{"agent"}}}},
	})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	if err != nil {
		t.Fatalf("update through the worker alone: %v", err)
	}
	row, err := wrk.Store().GetCase(ctx, id)
	if err != nil || row.Status != "resolved" {
		t.Fatalf("after the worker applied resolve: %+v %v", row.Status, err)
	}
}

func withMode(o app.Options, mode string) app.Options {
	o.Mode = mode
	return o
}
