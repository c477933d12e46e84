package activities

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/kanri-itsm/kanri/store"
)

type counter struct{ transitions, failures int }

func (c *counter) Transition(kind, action string) { c.transitions++ }
func (c *counter) ProjectFailed(kind string)      { c.failures++ }

// openStore is a migrated SQLite store in the test's directory, closed
// when the test ends.
func openStore(t *testing.T) *store.Store {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "kanri.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

// A retried projection (Temporal retries activities) adds nothing: one case
// row, one history entry, one notification.
func TestProjectIsIdempotent(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	obs := &counter{}
	a := &Activities{Store: db, Observer: obs}
	at := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	in := ProjectInput{
		Case: CaseRow{ID: "INC-000001", Kind: "incidents", Num: 1, Title: "Mail down", Status: "logged",
			Priority: "P1", CreatedBy: "alice", CreatedAt: at, UpdatedAt: at, Seq: 1,
			Record: json.RawMessage(`{"id":"INC-000001","status":"logged"}`)},
		Entry: Entry{Seq: 1, At: at, Actor: "alice", Action: "open", To: "logged", Detail: map[string]any{"source": "api"}},
		Notes: []Note{{Recipient: "mona", Channel: "email", Event: "sla_warning", Subject: "s", Body: "b"}},
	}
	for range 2 {
		if err := a.Project(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	h, err := db.History(ctx, "INC-000001")
	if err != nil || len(h) != 1 || h[0].Action != "open" || string(h[0].Detail) != `{"source":"api"}` {
		t.Fatalf("history %+v, %v", h, err)
	}
	n, err := db.Notifications(ctx, "INC-000001")
	if err != nil || len(n) != 1 || n[0].Recipient != "mona" || n[0].Seq != 1 {
		t.Fatalf("notifications %+v, %v", n, err)
	}
	c, err := db.GetCase(ctx, "INC-000001")
	if err != nil || string(c.Record) != `{"id":"INC-000001","status":"logged"}` || c.Priority != "P1" {
		t.Fatalf("case %+v, %v", c, err)
	}
	if obs.transitions != 2 || obs.failures != 0 {
		t.Fatalf("observer saw %+v", obs)
	}

	// A failing store is reported to the observer and wrapped with the case.
	db.Close()
	err = a.Project(ctx, in)
	if err == nil || obs.failures != 1 {
		t.Fatalf("projection on a closed store: err %v, failures %d", err, obs.failures)
	}
}
