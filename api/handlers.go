package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/workflows"
)

// decode reads a JSON body strictly: one object, no unknown fields, within
// the size limit. Every failure is a 422 with what was wrong.
func (s *server) decode(c *gin.Context, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		problem(c, http.StatusUnprocessableEntity, fmt.Sprintf("the body is larger than %d bytes", s.MaxBodyBytes))
		return false
	}
	if err != nil {
		problem(c, http.StatusUnprocessableEntity, "the body could not be read: "+err.Error())
		return false
	}
	if err := decodeStrict(body, v); err != nil {
		problem(c, http.StatusUnprocessableEntity, err.Error())
		return false
	}
	return true
}

func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New("the body is empty; a JSON object is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return fmt.Errorf("malformed JSON at byte %d: %v", syn.Offset, err)
		case errors.As(err, &typ):
			return fmt.Errorf("field %q must be a %s, not %s", typ.Field, typ.Type, typ.Value)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return errors.New("malformed JSON: the body ends too soon")
		}
		return fmt.Errorf("invalid JSON: %v", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return errors.New("malformed JSON: more than one value in the body")
	}
	return nil
}

func (s *server) create(c *gin.Context, k cases.Kind) {
	actor := actorOf(c)
	var (
		rec json.RawMessage
		err error
	)
	switch k.Name {
	case "incidents":
		var in cases.OpenIncident
		if !s.decode(c, &in) {
			return
		}
		rec, err = s.Cases.OpenIncident(c.Request.Context(), actor, in, "api")
	case "requests":
		var in cases.OpenRequest
		if !s.decode(c, &in) {
			return
		}
		rec, err = s.Cases.OpenRequest(c.Request.Context(), actor, in, "api")
	case "problems":
		var in cases.OpenProblem
		if !s.decode(c, &in) {
			return
		}
		rec, err = s.Cases.OpenProblem(c.Request.Context(), actor, in, "api")
	case "changes":
		var in cases.OpenChange
		if !s.decode(c, &in) {
			return
		}
		rec, err = s.Cases.OpenChange(c.Request.Context(), actor, in, "api")
	case "complaints":
		var in cases.OpenComplaint
		if !s.decode(c, &in) {
			return
		}
		rec, err = s.Cases.OpenComplaint(c.Request.Context(), actor, in, "api")
	case "corrective-actions":
		var in cases.OpenCorrective
		if !s.decode(c, &in) {
			return
		}
		rec, err = s.Cases.OpenCorrective(c.Request.Context(), actor, in, "api")
	case "suppliers":
		var in cases.OpenSupplier
		if !s.decode(c, &in) {
			return
		}
		rec, err = s.Cases.OpenSupplier(c.Request.Context(), actor, in, "api")
	case "audits":
		var in cases.OpenAudit
		if !s.decode(c, &in) {
			return
		}
		rec, err = s.Cases.OpenAudit(c.Request.Context(), actor, in, "api")
	case "supplier-reviews":
		var in cases.OpenSupplierReview
		if !s.decode(c, &in) {
			return
		}
		rec, err = s.Cases.OpenSupplierReview(c.Request.Context(), actor, in, c.GetHeader("Idempotency-Key"))
	case "releases":
		var in cases.OpenRelease
		if !s.decode(c, &in) {
			return
		}
		rec, err = s.Cases.OpenRelease(c.Request.Context(), actor, in, c.GetHeader("Idempotency-Key"))
	default:
		problem(c, http.StatusNotFound, "no such kind: "+k.Name)
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Data(http.StatusCreated, "application/json", rec)
}

func (s *server) get(c *gin.Context, k cases.Kind) {
	rec, err := s.Cases.Get(c.Request.Context(), k, c.Param("id"), actorOf(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json", rec)
}

// actionBody is what a client may send to /actions: an Action without the
// actor and source, which the server sets.
type actionBody struct {
	Action       string `json:"action"`
	Assignee     string `json:"assignee"`
	Group        string `json:"group"`
	Body         string `json:"body"`
	Reason       string `json:"reason"`
	Resolution   string `json:"resolution"`
	Impact       string `json:"impact"`
	Urgency      string `json:"urgency"`
	Manager      string `json:"manager"`
	Summary      string `json:"summary"`
	Improvements string `json:"improvements"`
	Comment      string `json:"comment"`
	Kind         string `json:"kind"`
	ID           string `json:"id"`
	Relation     string `json:"relation"`
	Risk         string `json:"risk"`
	Benefit      string `json:"benefit"`
	Feasibility  string `json:"feasibility"`
	Cost         string `json:"cost"`
	Security     string `json:"security"`
	Start        string `json:"start"`
	End          string `json:"end"`
	Success      *bool  `json:"success"`
	Notes        string `json:"notes"`
	RootCause    string `json:"root_cause"`
	Workaround   string `json:"workaround"`
	NeedsChange  *bool  `json:"needs_change"`
	Type         string `json:"type"`
	BackoutPlan  string `json:"backout_plan"`
	// Changes and releases.
	Plan               string                `json:"plan"`
	AcceptanceCriteria []string              `json:"acceptance_criteria"`
	RemovalPlan        string                `json:"removal_plan"`
	CIUpdates          []activities.CIUpdate `json:"ci_updates"`
	AcceptConflicts    bool                  `json:"accept_conflicts"`
	Title              string                `json:"title"`
	Description        string                `json:"description"`
	CIs                []string              `json:"cis"`
	Version            string                `json:"version"`
	Results            string                `json:"results"`
	Passed             *bool                 `json:"passed"`
	Accept             *bool                 `json:"accept"`
	// Suppliers, their reviews and audits.
	Contract  *workflows.SupplierContract `json:"contract"`
	Dispute   string                      `json:"dispute"`
	Rating    int                         `json:"rating"`
	Decisions string                      `json:"decisions"`
	Findings  []workflows.Finding         `json:"findings"`
}

func (s *server) act(c *gin.Context, k cases.Kind) {
	var b actionBody
	if !s.decode(c, &b) {
		return
	}
	if b.Action == "" {
		problem(c, http.StatusUnprocessableEntity, `"action" is required`)
		return
	}
	a := workflows.Action{
		Action: b.Action, Actor: actorOf(c), Source: "api",
		Assignee: b.Assignee, Group: b.Group, Body: b.Body, Reason: b.Reason, Resolution: b.Resolution,
		Impact: b.Impact, Urgency: b.Urgency, Manager: b.Manager, Summary: b.Summary,
		Improvements: b.Improvements, Comment: b.Comment, Kind: b.Kind, ID: b.ID, Relation: b.Relation,
		Risk: b.Risk, Benefit: b.Benefit, Feasibility: b.Feasibility, Cost: b.Cost, Security: b.Security,
		Start: b.Start, End: b.End, Success: b.Success, Notes: b.Notes,
		RootCause: b.RootCause, Workaround: b.Workaround, NeedsChange: b.NeedsChange, Type: b.Type, BackoutPlan: b.BackoutPlan,
		Plan: b.Plan, AcceptanceCriteria: b.AcceptanceCriteria, RemovalPlan: b.RemovalPlan, CIUpdates: b.CIUpdates,
		AcceptConflicts: b.AcceptConflicts, Title: b.Title, Description: b.Description, CIs: b.CIs,
		Version: b.Version, Results: b.Results, Passed: b.Passed, Accept: b.Accept,
		Contract: b.Contract, Dispute: b.Dispute, Rating: b.Rating, Decisions: b.Decisions, Findings: b.Findings,
	}
	// An Idempotency-Key makes a retried or double-clicked request apply once.
	rec, err := s.Cases.Act(c.Request.Context(), k, c.Param("id"), a, c.GetHeader("Idempotency-Key"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json", rec)
}

func (s *server) history(c *gin.Context, k cases.Kind) {
	items, err := s.Cases.History(c.Request.Context(), k, c.Param("id"), actorOf(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

// listFilters are the query parameters each kind accepts.
func listFilters(k cases.Kind) []string {
	common := []string{"status", "limit", "cursor", "assignee", "group", "service", "breached"}
	switch k.Name {
	case "incidents":
		return append(common, "priority", "major")
	case "changes", "releases", "corrective-actions", "complaints":
		return []string{"status", "limit", "cursor"}
	case "problems":
		return []string{"status", "limit", "cursor", "priority", "service", "assignee", "group"}
	}
	return common
}

func (s *server) list(c *gin.Context, k cases.Kind) {
	allowed := listFilters(k)
	for key := range c.Request.URL.Query() {
		if !slices.Contains(allowed, key) {
			problem(c, http.StatusUnprocessableEntity, fmt.Sprintf("unknown filter %q; %s take %s", key, k.Name, strings.Join(allowed, ", ")))
			return
		}
	}
	q := cases.ListQuery{
		Priority: c.Query("priority"), Service: c.Query("service"),
		Assignee: c.Query("assignee"), Group: c.Query("group"), Cursor: c.Query("cursor"),
	}
	for _, v := range c.QueryArray("status") {
		for _, st := range strings.Split(v, ",") {
			if st = strings.TrimSpace(st); st != "" {
				q.Statuses = append(q.Statuses, st)
			}
		}
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			problem(c, http.StatusUnprocessableEntity, "limit must be a whole number from 1 to 200")
			return
		}
		q.Limit = n
	}
	for _, f := range []struct {
		name string
		dst  **bool
	}{{"major", &q.Major}, {"breached", &q.Breached}} {
		if v := c.Query(f.name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				problem(c, http.StatusUnprocessableEntity, f.name+" must be true or false")
				return
			}
			*f.dst = &b
		}
	}
	items, next, err := s.Cases.List(c.Request.Context(), k, actorOf(c), q)
	if err != nil {
		s.fail(c, err)
		return
	}
	var cursor any // null on the last page
	if next != "" {
		cursor = next
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": cursor})
}
