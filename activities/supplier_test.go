package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// A supplier's target counts an incident as met once it is resolved
// without a breach; one still open and not breached is pending, and the
// achievement is met / (met + breached), as the service report has it.
func TestSupplierFiguresCountOpenIncidentsAsPending(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	a := &Activities{Store: db, IDs: db, CMDB: db}
	opened := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	for i, c := range []struct {
		service, priority, status string
		breached                  bool
	}{
		{"email", "P1", "in_progress", true},  // breached
		{"email", "P1", "resolved", false},    // met
		{"email", "P1", "closed", false},      // met
		{"email", "P1", "in_progress", false}, // pending
		{"email", "P2", "resolved", false},
		{"payroll", "P1", "closed", true}, // not the supplier's service
	} {
		id := fmt.Sprintf("INC-%06d", i+1)
		if err := a.Project(ctx, ProjectInput{
			Case: CaseRow{ID: id, Kind: "incidents", Num: int64(i + 1), Title: "t", Status: c.status, Priority: c.priority,
				Service: c.service, Breached: c.breached, CreatedBy: "rita", Caller: "rita", CreatedAt: opened, UpdatedAt: opened, Seq: 1,
				Record: json.RawMessage(`{}`)},
			Entry: Entry{Seq: 1, At: opened, Actor: "rita", Action: "open", To: c.status},
		}); err != nil {
			t.Fatal(err)
		}
	}
	f, err := a.GatherSupplierFigures(ctx, FiguresInput{
		Services: []string{"email"}, From: opened.Add(-24 * time.Hour), To: opened.Add(24 * time.Hour),
		Targets: []ServiceTarget{{Service: "email", Priority: "P1"}, {Service: "email", Priority: "P3"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.Incidents != 5 || f.Breached != 1 {
		t.Errorf("incidents %d breached %d, want 5 and 1", f.Incidents, f.Breached)
	}
	p1 := f.Targets[0]
	if p1.Incidents != 4 || p1.Met != 2 || p1.Breached != 1 || p1.Pending != 1 || p1.Achievement != 66.6 {
		t.Errorf("P1: %+v, want 4 incidents, 2 met, 1 breached, 1 pending, 66.6%%", p1)
	}
	if p3 := f.Targets[1]; p3.Incidents != 0 || p3.Achievement != 100 {
		t.Errorf("P3 without incidents: %+v, want 100%%", p3)
	}
}
