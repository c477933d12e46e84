package api

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/store"
)

// serviceReports serves GET /api/v1/reports/services: every service's
// report over the period.
func (s *server) serviceReports(c *gin.Context) { s.reportOf(c, "") }

// serviceReport serves GET /api/v1/reports/services/{id}.
func (s *server) serviceReport(c *gin.Context) { s.reportOf(c, c.Param("id")) }

func (s *server) reportOf(c *gin.Context, service string) {
	if !onlyQuery(c, "from", "to", "format") {
		return
	}
	format := c.Query("format")
	if format == "" && strings.Contains(c.GetHeader("Accept"), "text/csv") {
		format = "csv"
	}
	if format != "" && format != "csv" && format != "json" {
		problem(c, http.StatusUnprocessableEntity, `format must be "json" or "csv"`)
		return
	}
	now := time.Now().UTC()
	from, to, err := cases.ParsePeriod(c.Query("from"), c.Query("to"), now)
	if err != nil {
		s.fail(c, err)
		return
	}
	reps, err := s.Cases.ServiceReports(c.Request.Context(), actorOf(c), service, from, to)
	if err != nil {
		s.fail(c, err)
		return
	}
	if format == "csv" {
		name := "services"
		if service != "" {
			name = service
		}
		c.Header("Content-Disposition", `attachment; filename="service-report-`+name+`-`+from.Format("20060102T150405Z")+`.csv"`)
		c.Data(http.StatusOK, "text/csv; charset=utf-8", reportCSV(reps))
		return
	}
	if service != "" {
		c.JSON(http.StatusOK, reps[0])
		return
	}
	c.JSON(http.StatusOK, gin.H{"from": from, "to": to, "generated_at": now, "items": reps})
}

// reportCSV renders reports one figure a line: service, section, item (the
// case, target or supplier a figure belongs to), metric and value. A
// percentage or average without a base is empty.
func reportCSV(reps []store.ServiceReport) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"service", "section", "item", "metric", "value"})
	for _, r := range reps {
		row := func(section, item, metric string, v any) {
			_ = w.Write([]string{r.Service, section, csvText(item), metric, csvValue(v)})
		}
		row("service", "", "name", r.Name)
		row("service", "", "owner", r.Owner)
		row("period", "", "from", r.From)
		row("period", "", "to", r.To)
		for _, a := range r.SLA {
			item := a.Kind + "/" + a.Target + "/" + a.Priority
			row("sla", item, "cases", a.Cases)
			row("sla", item, "met", a.Met)
			row("sla", item, "breached", a.Breached)
			row("sla", item, "pending", a.Pending)
			row("sla", item, "achieved_pct", a.AchievedPct)
		}
		for _, b := range r.Breaches {
			item := b.CaseID + "/" + b.Target
			row("breaches", item, "title", b.Title)
			row("breaches", item, "priority", b.Priority)
			row("breaches", item, "at", b.At)
			row("breaches", item, "escalated_to", b.EscalatedTo)
			row("breaches", item, "status", b.Status)
			row("breaches", item, "resolution", b.Resolution)
			row("breaches", item, "problems", strings.Join(b.Problems, " "))
			row("breaches", item, "cause", b.Cause)
		}
		for _, f := range []struct {
			item string
			flow store.Flow
		}{{"incidents", r.Workload.Incidents}, {"requests", r.Workload.Requests}} {
			row("workload", f.item, "opened", f.flow.Opened)
			row("workload", f.item, "resolved", f.flow.Resolved)
		}
		for _, m := range r.MajorIncidents {
			row("major_incidents", m.ID, "title", m.Title)
			row("major_incidents", m.ID, "priority", m.Priority)
			row("major_incidents", m.ID, "status", m.Status)
			row("major_incidents", m.ID, "manager", m.Manager)
			row("major_incidents", m.ID, "declared_at", m.DeclaredAt)
			row("major_incidents", m.ID, "resolved_at", m.ResolvedAt)
			row("major_incidents", m.ID, "reviewed", m.Reviewed)
		}
		ch := r.Changes
		row("changes", "", "raised", ch.Raised)
		row("changes", "", "emergency", ch.Emergency)
		row("changes", "", "emergency_pct", ch.EmergencyPct)
		row("changes", "", "implemented", ch.Implemented)
		row("changes", "", "successful", ch.Successful)
		row("changes", "", "failed", ch.Failed)
		row("changes", "", "success_pct", ch.SuccessPct)
		p := r.Problems
		row("problems", "", "opened", p.Opened)
		row("problems", "", "resolved", p.Resolved)
		row("problems", "", "open", p.Open)
		row("problems", "", "known_errors_recorded", p.KnownErrorsRecorded)
		row("problems", "", "known_errors_open", p.KnownErrorsOpen)
		for _, sp := range r.Suppliers {
			row("suppliers", sp.Supplier, "name", sp.Name)
			row("suppliers", sp.Supplier, "reviews", sp.Reviews)
			row("suppliers", sp.Supplier, "closed", sp.Closed)
			row("suppliers", sp.Supplier, "average_rating", sp.AverageRating)
			row("suppliers", sp.Supplier, "latest_rating", int64(sp.LatestRating))
			row("suppliers", sp.Supplier, "latest_review", sp.LatestReview)
		}
		row("complaints", "", "received", r.Complaints.Received)
		row("complaints", "", "closed", r.Complaints.Closed)
		row("complaints", "", "open", r.Complaints.Open)
		sf := r.Satisfaction
		row("satisfaction", "", "sent", sf.Sent)
		row("satisfaction", "", "responses", sf.Responses)
		row("satisfaction", "", "average_score", sf.AverageScore)
		for i, n := range sf.Scores {
			row("satisfaction", "", "score_"+strconv.Itoa(i+1), n)
		}
		row("corrective_actions", "", "open", int64(len(r.CorrectiveActions)))
		for _, o := range r.CorrectiveActions {
			row("corrective_actions", o.ID, "title", o.Title)
			row("corrective_actions", o.ID, "status", o.Status)
			row("corrective_actions", o.ID, "owner", o.Owner)
			row("corrective_actions", o.ID, "created_at", o.CreatedAt)
		}
	}
	w.Flush()
	return buf.Bytes()
}

func csvValue(v any) string {
	switch v := v.(type) {
	case int64:
		return strconv.FormatInt(v, 10)
	case bool:
		return strconv.FormatBool(v)
	case *float64:
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(*v, 'f', -1, 64)
	case time.Time:
		return v.UTC().Format(time.RFC3339)
	case *time.Time:
		if v == nil {
			return ""
		}
		return v.UTC().Format(time.RFC3339)
	case string:
		return csvText(v)
	}
	panic(fmt.Sprintf("reportCSV: no format for %T", v))
}

// csvText keeps text that people typed (a title, a resolution) from being
// taken for a formula by a spreadsheet: such text gets a leading quote.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// survey serves GET /api/v1/{incidents|requests}/{id}/survey.
func (s *server) survey(c *gin.Context, k cases.Kind) {
	v, err := s.Cases.Survey(c.Request.Context(), k, c.Param("id"), actorOf(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

// answerSurvey serves POST /api/v1/{incidents|requests}/{id}/survey: the
// caller's score (1–5) and comment, once the case is closed, once.
func (s *server) answerSurvey(c *gin.Context, k cases.Kind) {
	var in cases.SurveyAnswer
	if !s.decode(c, &in) {
		return
	}
	v, err := s.Cases.AnswerSurvey(c.Request.Context(), k, c.Param("id"), actorOf(c), in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}
