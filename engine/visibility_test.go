package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sqliteschema "go.temporal.io/server/schema/sqlite"
)

// startIn starts the embedded engine on dir, starts one workflow (no
// worker runs it: it only has to be indexed) and waits until the engine's
// visibility lists it.
func startIn(t *testing.T, dir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Port 0: the engine picks its frontend's port itself.
	e, err := StartEmbedded(ctx, EmbeddedOptions{DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	if _, port, err := net.SplitHostPort(e.Address()); err != nil || port == "0" {
		t.Fatalf("the engine's address %q names no port it listens on (%v)", e.Address(), err)
	}
	c, err := client.Dial(client.Options{HostPort: e.Address(), Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "indexed", TaskQueue: "nobody"}, "Nothing"); err != nil {
		t.Fatal(err)
	}
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default"})
		if err == nil && len(resp.Executions) == 1 && resp.Executions[0].Execution.WorkflowId == "indexed" {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the engine never listed the workflow (last error %v)", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// visibilityRows counts the test's workflow in a file's index (the
// engine indexes its own system workflows as well), and lists the indexes
// of its visibility table.
func visibilityRows(t *testing.T, path string) (rows int, indexes []string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow(`SELECT count(*) FROM executions_visibility WHERE workflow_id = 'indexed'`).Scan(&rows); err != nil {
		t.Fatal(fmt.Errorf("count in %s: %w", path, err))
	}
	r, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'executions_visibility' AND sql IS NOT NULL ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for r.Next() {
		var n string
		if err := r.Scan(&n); err != nil {
			t.Fatal(err)
		}
		indexes = append(indexes, n)
	}
	return rows, indexes
}

// A fresh data directory indexes workflows in a file of its own, with only
// the indexes Kanri keeps, so that index writes never wait for the history
// file's one connection.
func TestFreshDataDirKeepsVisibilityApart(t *testing.T) {
	dir := t.TempDir()
	startIn(t, dir)

	rows, _ := visibilityRows(t, filepath.Join(dir, "temporal.db"))
	if rows != 0 {
		t.Errorf("temporal.db indexes the workflow %d times; the index belongs in temporal-visibility.db", rows)
	}
	rows, indexes := visibilityRows(t, filepath.Join(dir, "temporal-visibility.db"))
	if rows != 1 {
		t.Errorf("temporal-visibility.db indexes the workflow %d times, want 1", rows)
	}
	// Named here rather than read from visibilityIndexes, so that an index
	// dropped from the code by mistake fails the test.
	want := []string{"by_execution_time", "by_status", "by_temporal_namespace_division", "by_workflow_id", "by_workflow_type", "default_idx"}
	if !slices.Equal(indexes, want) {
		t.Errorf("visibility indexes %v, want %v", indexes, want)
	}

	// A restart finds both files and keeps the split.
	startIn(t, dir)
	if rows, _ := visibilityRows(t, filepath.Join(dir, "temporal-visibility.db")); rows != 1 {
		t.Errorf("after a restart temporal-visibility.db indexes the workflow %d times, want 1", rows)
	}
}

// A data directory made before the split keeps its one file: its running
// workflows are indexed there, and a new file would drop them from the list.
func TestOldDataDirKeepsOneFile(t *testing.T) {
	dir := t.TempDir()
	if err := sqliteschema.SetupSchema(sqliteConfig(filepath.Join(dir, "temporal.db"))); err != nil {
		t.Fatal(err)
	}
	startIn(t, dir)
	if _, err := os.Stat(filepath.Join(dir, "temporal-visibility.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an old data directory got a visibility file (stat: %v)", err)
	}
	if rows, _ := visibilityRows(t, filepath.Join(dir, "temporal.db")); rows != 1 {
		t.Errorf("temporal.db indexes the workflow %d times, want 1", rows)
	}
}
