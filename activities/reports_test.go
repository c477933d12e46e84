package activities

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kanri-itsm/kanri/store"
)

// The monthly report of a service is a closed case whose record holds the
// report, with one history entry and a mail to the service owner; a retried
// issue writes nothing twice.
func TestIssueServiceReport(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	if err := db.SeedDirectory(ctx, nil, nil, []store.Service{
		{ID: "payroll", Name: "Payroll", Owner: "tess"}, {ID: "email", Name: "Corporate email", Owner: "mona"},
	}); err != nil {
		t.Fatal(err)
	}
	a := &Activities{Store: db, IDs: db}

	svcs, err := a.ReportServices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(svcs) != 2 || svcs[0] != (ReportService{ID: "email", Name: "Corporate email", Owner: "mona"}) || svcs[1].ID != "payroll" {
		t.Fatalf("services %+v", svcs)
	}

	// One incident of March, breached.
	opened := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	if err := a.Project(ctx, ProjectInput{
		Case: CaseRow{ID: "INC-000001", Kind: "incidents", Num: 1, Title: "Mail down", Status: "logged", Priority: "P1",
			Service: "email", CreatedBy: "rita", Caller: "rita", CreatedAt: opened, UpdatedAt: opened, Seq: 1,
			Record: json.RawMessage(`{"id":"INC-000001","sla":{"responded_at":null,"breached":["response"]}}`)},
		Entry: Entry{Seq: 1, At: opened, Actor: "rita", Action: "open", To: "logged"},
	}); err != nil {
		t.Fatal(err)
	}

	from, to := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	id, err := a.NextID(ctx, ServiceReportKind, "RPT")
	if err != nil {
		t.Fatal(err)
	}
	in := ServiceReportIssue{ID: id.ID, Num: id.Num, Service: svcs[0], From: from, To: to, At: to}
	for range 2 {
		if err := a.IssueServiceReport(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	row, err := db.GetCase(ctx, "RPT-000001")
	if err != nil {
		t.Fatal(err)
	}
	if row.Kind != "service-reports" || row.Status != "closed" || row.Service != "email" || row.Caller != "mona" ||
		row.Title != "Service report: Corporate email, March 2026" || !row.CreatedAt.Equal(to) {
		t.Fatalf("row %+v", row)
	}
	var rec ServiceReportRecord
	if err := json.Unmarshal(row.Record, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.ID != "RPT-000001" || rec.Kind != "service-reports" || rec.Status != "closed" || rec.Owner != "mona" ||
		rec.ClosedAt == nil || !rec.From.Equal(from) || !rec.To.Equal(to) || rec.Report.Service != "email" ||
		rec.Report.Workload.Incidents.Opened != 1 || rec.Report.SLA[0].Breached != 1 || rec.Links == nil {
		t.Fatalf("record %s", row.Record)
	}
	h, err := db.History(ctx, "RPT-000001")
	if err != nil || len(h) != 1 || h[0].Action != "issue" || h[0].To != "closed" || h[0].Actor != "system" {
		t.Fatalf("history %+v, %v", h, err)
	}
	ns, err := db.Notifications(ctx, "RPT-000001")
	if err != nil || len(ns) != 1 || ns[0].Recipient != "mona" || ns[0].Event != "service_report" ||
		!strings.Contains(ns[0].Body, "incidents response: 1 cases, 0 met, 1 breached, 0 pending, achieved 0.0%") ||
		!strings.Contains(ns[0].Body, "GET /api/v1/service-reports/RPT-000001") {
		t.Fatalf("notifications %+v, %v", ns, err)
	}

	// A service without an owner gets its report, mailed to nobody.
	if err := a.IssueServiceReport(ctx, ServiceReportIssue{ID: "RPT-000002", Num: 2, Service: ReportService{ID: "fax"}, From: from, To: to, At: to}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetCase(ctx, "RPT-000002"); err != nil {
		t.Fatalf("the ownerless report was not issued: %v", err)
	}
	if ns, err := db.Notifications(ctx, "RPT-000002"); err != nil || len(ns) != 0 {
		t.Errorf("notifications of an ownerless report: %+v (%v)", ns, err)
	}
	if err := a.IssueServiceReport(ctx, ServiceReportIssue{ID: "RPT-000003", Service: ReportService{ID: "email"}, From: to, To: from}); err == nil {
		t.Error("an empty period was issued")
	}
	if got := periodName(from, to.Add(time.Hour)); got != "2026-03-01T00:00:00Z to 2026-04-01T01:00:00Z" {
		t.Errorf("period name %q", got)
	}
}
