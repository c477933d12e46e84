package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/store"
)

// configurationRoutes serve configuration and change management beyond the
// case routes: the CMDB, baselines, the change schedule, a change's
// evidence, the known errors and the problem trend report.
func (s *server) configurationRoutes(v1 *gin.RouterGroup) {
	v1.GET("/changes/schedule", s.schedule)
	v1.GET("/changes/:id/evidence", s.evidence)
	v1.GET("/cis", s.listCIs)
	v1.POST("/cis", s.createCI)
	v1.GET("/cis/:id", s.getCI)
	v1.PATCH("/cis/:id", s.patchCI)
	v1.GET("/cis/:id/impact", s.impact)
	v1.GET("/baselines", s.listBaselines)
	v1.POST("/baselines", s.takeBaseline)
	v1.GET("/baselines/:name", s.getBaseline)
	v1.GET("/known-errors", s.knownErrors)
	v1.GET("/reports/problems", s.problemTrends)
}

// onlyQuery refuses query parameters a route does not take.
func onlyQuery(c *gin.Context, allowed ...string) bool {
	for key := range c.Request.URL.Query() {
		ok := false
		for _, a := range allowed {
			ok = ok || a == key
		}
		if !ok {
			problem(c, http.StatusUnprocessableEntity, fmt.Sprintf("unknown parameter %q; this takes %s", key, strings.Join(allowed, ", ")))
			return false
		}
	}
	return true
}

func queryLimit(c *gin.Context, def, max int) (int, bool) {
	v := c.Query("limit")
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		problem(c, http.StatusUnprocessableEntity, fmt.Sprintf("limit must be a whole number from 1 to %d", max))
		return 0, false
	}
	return n, true
}

func (s *server) schedule(c *gin.Context) {
	if !onlyQuery(c, "from", "to", "format") {
		return
	}
	now := time.Now().UTC()
	from, to := now.Add(-24*time.Hour), now.Add(30*24*time.Hour)
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := c.Query(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				problem(c, http.StatusUnprocessableEntity, fmt.Sprintf("%s %q is not an RFC 3339 time", p.name, v))
				return
			}
			*p.dst = t.UTC()
		}
	}
	format := c.Query("format")
	if format == "" && strings.Contains(c.GetHeader("Accept"), "text/calendar") {
		format = "ics"
	}
	if format != "" && format != "ics" && format != "json" {
		problem(c, http.StatusUnprocessableEntity, `format must be "json" or "ics"`)
		return
	}
	items, blackouts, err := s.Cases.Schedule(c.Request.Context(), actorOf(c), from, to)
	if err != nil {
		s.fail(c, err)
		return
	}
	if format == "ics" {
		c.Data(http.StatusOK, "text/calendar; charset=utf-8", iCalendar(items, blackouts, now))
		return
	}
	c.JSON(http.StatusOK, gin.H{"from": from, "to": to, "items": items, "blackouts": orNone(blackouts)})
}

func orNone[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s *server) evidence(c *gin.Context) {
	ev, err := s.Cases.Evidence(c.Request.Context(), c.Param("id"), actorOf(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ev)
}

func (s *server) listCIs(c *gin.Context) {
	if !onlyQuery(c, "type", "status", "q", "limit") {
		return
	}
	limit, ok := queryLimit(c, 50, 200)
	if !ok {
		return
	}
	cis, err := s.Cases.ListCIs(c.Request.Context(), actorOf(c), store.CIQuery{
		Type: c.Query("type"), Status: c.Query("status"), Q: c.Query("q"), Limit: limit,
	})
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": cis})
}

func (s *server) getCI(c *gin.Context) {
	ci, err := s.Cases.GetCI(c.Request.Context(), actorOf(c), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ci)
}

func (s *server) writeCI(c *gin.Context, id string, in cases.WriteCI, status int) {
	ci, err := s.Cases.WriteCI(c.Request.Context(), actorOf(c), id, in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(status, ci)
}

func (s *server) patchCI(c *gin.Context) {
	var in cases.WriteCI
	if !s.decode(c, &in) {
		return
	}
	s.writeCI(c, c.Param("id"), in, http.StatusOK)
}

func (s *server) createCI(c *gin.Context) {
	var in cases.WriteCI
	if !s.decode(c, &in) {
		return
	}
	if in.ID == "" {
		problem(c, http.StatusUnprocessableEntity, "id is required")
		return
	}
	s.writeCI(c, in.ID, in, http.StatusCreated)
}

func (s *server) impact(c *gin.Context) {
	im, err := s.Cases.Impact(c.Request.Context(), actorOf(c), c.Param("id"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, im)
}

func (s *server) listBaselines(c *gin.Context) {
	if !onlyQuery(c, "release") {
		return
	}
	bs, err := s.Cases.Baselines(c.Request.Context(), actorOf(c), c.Query("release"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": bs})
}

func (s *server) takeBaseline(c *gin.Context) {
	var in cases.TakeBaseline
	if !s.decode(c, &in) {
		return
	}
	b, err := s.Cases.TakeBaseline(c.Request.Context(), actorOf(c), in)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, b)
}

func (s *server) getBaseline(c *gin.Context) {
	b, err := s.Cases.Baseline(c.Request.Context(), actorOf(c), c.Param("name"))
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, b)
}

func (s *server) knownErrors(c *gin.Context) {
	if !onlyQuery(c, "q", "limit") {
		return
	}
	limit, ok := queryLimit(c, 50, 200)
	if !ok {
		return
	}
	ks, err := s.Cases.KnownErrors(c.Request.Context(), actorOf(c), c.Query("q"), limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": ks})
}

func (s *server) problemTrends(c *gin.Context) {
	if !onlyQuery(c, "limit") {
		return
	}
	limit, ok := queryLimit(c, 100, 1000)
	if !ok {
		return
	}
	ts, err := s.Cases.ProblemTrends(c.Request.Context(), actorOf(c), limit)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": ts})
}
