package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/kanri-itsm/kanri/store"
)

// ServiceReports is the part of the store that the monthly service reports
// read. It is asserted from the Store field, which the projection needs
// only as a Recorder.
type ServiceReports interface {
	ActiveServices(ctx context.Context) ([]store.Service, error)
	ServiceReports(ctx context.Context, services []store.Service, from, to time.Time) ([]store.ServiceReport, error)
}

func (a *Activities) serviceReports() (ServiceReports, error) {
	r, ok := a.Store.(ServiceReports)
	if !ok {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("service reports: the store (%T) cannot report", a.Store), "Unsupported", nil)
	}
	return r, nil
}

// ReportService is a service of the catalogue and the owner its report goes
// to.
type ReportService struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Owner string `json:"owner"`
}

// ReportServices lists the services of the catalogue as the directory holds
// them now (the configuration seeds it at every start), by id: a service
// added, removed or given another owner since the reports began counts from
// the next report on.
func (a *Activities) ReportServices(ctx context.Context) ([]ReportService, error) {
	r, err := a.serviceReports()
	if err != nil {
		return nil, err
	}
	svcs, err := r.ActiveServices(ctx)
	if err != nil {
		return nil, fmt.Errorf("report services: %w", err)
	}
	out := make([]ReportService, 0, len(svcs))
	for _, s := range svcs {
		out = append(out, ReportService{ID: s.ID, Name: s.Name, Owner: s.Owner})
	}
	slices.SortFunc(out, func(x, y ReportService) int { return strings.Compare(x.ID, y.ID) })
	return out, nil
}

// ServiceReportIssue is one service's report to issue: the case id the
// workflow took for it, the service, the period [From, To) and the time of
// issue.
type ServiceReportIssue struct {
	ID      string        `json:"id"`
	Num     int64         `json:"num"`
	Service ReportService `json:"service"`
	From    time.Time     `json:"from"`
	To      time.Time     `json:"to"`
	At      time.Time     `json:"at"`
}

// ReportLink relates a service report to another case.
type ReportLink struct {
	Kind     string `json:"kind"`
	ID       string `json:"id"`
	Relation string `json:"relation"`
}

// ServiceReportRecord is the record of a service report (kind
// service-reports, RPT-): issued and closed at once, the report as it stood
// when issued.
type ServiceReportRecord struct {
	ID          string              `json:"id"`
	Kind        string              `json:"kind"`
	Title       string              `json:"title"`
	Status      string              `json:"status"`
	Service     string              `json:"service"`
	ServiceName string              `json:"service_name"`
	Owner       string              `json:"owner"`
	From        time.Time           `json:"from"`
	To          time.Time           `json:"to"`
	Report      store.ServiceReport `json:"report"`
	IssuedAt    time.Time           `json:"issued_at"`
	ClosedAt    *time.Time          `json:"closed_at"`
	CreatedAt   time.Time           `json:"created_at"`
	UpdatedAt   time.Time           `json:"updated_at"`
	CreatedBy   string              `json:"created_by"`
	WaitingFor  string              `json:"waiting_for"`
	Links       []ReportLink        `json:"links"`
}

// ServiceReportKind is the kind of the cases that record issued reports.
const ServiceReportKind = "service-reports"

// IssueServiceReport computes one service's report for the period and
// records it as a closed case, with a notification to the service owner.
// A retry writes nothing twice: the projection is keyed by the case id the
// workflow took, and the first report written stands.
func (a *Activities) IssueServiceReport(ctx context.Context, in ServiceReportIssue) error {
	if in.ID == "" || in.Service.ID == "" || !in.From.Before(in.To) {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("issue service report: bad input %+v", in), "Invalid", nil)
	}
	r, err := a.serviceReports()
	if err != nil {
		return err
	}
	svc := store.Service{ID: in.Service.ID, Name: in.Service.Name, Owner: in.Service.Owner, Active: true}
	reps, err := r.ServiceReports(ctx, []store.Service{svc}, in.From, in.To)
	if err != nil {
		return fmt.Errorf("issue %s for %s: %w", in.ID, in.Service.ID, err)
	}
	if len(reps) != 1 {
		return errors.New("issue service report: the store returned no report")
	}
	rep := reps[0]
	at := in.At.UTC()
	name := in.Service.Name
	if name == "" {
		name = in.Service.ID
	}
	title := "Service report: " + name + ", " + periodName(in.From, in.To)
	rec := ServiceReportRecord{
		ID: in.ID, Kind: ServiceReportKind, Title: title, Status: "closed", Service: in.Service.ID,
		ServiceName: in.Service.Name, Owner: in.Service.Owner, From: in.From.UTC(), To: in.To.UTC(), Report: rep,
		IssuedAt: at, ClosedAt: &at, CreatedAt: at, UpdatedAt: at, CreatedBy: "system", Links: []ReportLink{},
	}
	for _, m := range rep.MajorIncidents {
		rec.Links = append(rec.Links, ReportLink{Kind: "incidents", ID: m.ID, Relation: "major_incident"})
	}
	for _, c := range rep.CorrectiveActions {
		rec.Links = append(rec.Links, ReportLink{Kind: "corrective-actions", ID: c.ID, Relation: "open_corrective_action"})
	}
	record, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("issue %s: %w", in.ID, err)
	}
	var notes []Note
	if in.Service.Owner != "" {
		notes = append(notes, Note{Recipient: in.Service.Owner, Channel: "email", Event: "service_report",
			Subject: "[" + in.ID + "] " + title, Body: reportSummary(in.ID, title, rep)})
	}
	return a.Project(ctx, ProjectInput{
		Case: CaseRow{
			ID: in.ID, Kind: ServiceReportKind, Num: in.Num, Title: title, Status: "closed", Service: in.Service.ID,
			// The owner is the report's caller, so an owner without a
			// staff role reads their reports through the case API.
			Caller: in.Service.Owner, CreatedBy: "system", CreatedAt: at, UpdatedAt: at, Seq: 1,
			Record: record,
		},
		Entry: Entry{Seq: 1, At: at, Actor: "system", Action: "issue", From: "", To: "closed", Detail: map[string]any{
			"service": in.Service.ID, "from": in.From.UTC().Format(time.RFC3339), "to": in.To.UTC().Format(time.RFC3339),
			"owner": in.Service.Owner,
		}},
		Notes: notes,
	})
}

// periodName names a calendar month as "March 2026", any other period by
// its bounds.
func periodName(from, to time.Time) string {
	from, to = from.UTC(), to.UTC()
	if from.Day() == 1 && from.Hour() == 0 && from.Minute() == 0 && from.Second() == 0 && from.Nanosecond() == 0 &&
		from.AddDate(0, 1, 0).Equal(to) {
		return from.Format("January 2006")
	}
	return from.Format(time.RFC3339) + " to " + to.Format(time.RFC3339)
}

// reportSummary is the mail to the owner: the headline figures, and where
// the whole report is.
func reportSummary(id, title string, r store.ServiceReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s to %s)\n\n", title, r.From.Format(time.RFC3339), r.To.Format(time.RFC3339))
	b.WriteString("Performance against targets:\n")
	for _, a := range r.SLA {
		if a.Priority != "all" {
			continue
		}
		fmt.Fprintf(&b, "  %s %s: %d cases, %d met, %d breached, %d pending, achieved %s\n",
			a.Kind, a.Target, a.Cases, a.Met, a.Breached, a.Pending, percent(a.AchievedPct))
	}
	fmt.Fprintf(&b, "Breaches: %d\n", len(r.Breaches))
	fmt.Fprintf(&b, "Workload: incidents %d opened, %d resolved; requests %d opened, %d fulfilled\n",
		r.Workload.Incidents.Opened, r.Workload.Incidents.Resolved, r.Workload.Requests.Opened, r.Workload.Requests.Resolved)
	fmt.Fprintf(&b, "Major incidents: %d\n", len(r.MajorIncidents))
	fmt.Fprintf(&b, "Changes: %d raised (%s emergency), %d implemented, success %s\n",
		r.Changes.Raised, percent(r.Changes.EmergencyPct), r.Changes.Implemented, percent(r.Changes.SuccessPct))
	fmt.Fprintf(&b, "Problems: %d opened, %d resolved, %d open; known errors %d recorded, %d open\n",
		r.Problems.Opened, r.Problems.Resolved, r.Problems.Open, r.Problems.KnownErrorsRecorded, r.Problems.KnownErrorsOpen)
	fmt.Fprintf(&b, "Complaints: %d received, %d closed, %d open\n", r.Complaints.Received, r.Complaints.Closed, r.Complaints.Open)
	avg := "n/a"
	if r.Satisfaction.AverageScore != nil {
		avg = fmt.Sprintf("%.2f", *r.Satisfaction.AverageScore)
	}
	fmt.Fprintf(&b, "Satisfaction: %d surveys sent, %d answered, average score %s\n", r.Satisfaction.Sent, r.Satisfaction.Responses, avg)
	fmt.Fprintf(&b, "Open corrective actions: %d\n\n", len(r.CorrectiveActions))
	fmt.Fprintf(&b, "The whole report: GET /api/v1/%s/%s", ServiceReportKind, id)
	return b.String()
}

func percent(p *float64) string {
	if p == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", *p)
}
