// Package api is Kanri's HTTP API (CONTRACT §2): Gin routes that
// authenticate the caller and translate each request into a case command.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/metrics"
	"github.com/kanri-itsm/kanri/store"
	"github.com/kanri-itsm/kanri/workflows"
)

// DefaultMaxBodyBytes bounds request bodies unless the configuration says
// otherwise.
const DefaultMaxBodyBytes = 1 << 20

// Directory resolves bearer tokens to users.
type Directory interface {
	UserByToken(ctx context.Context, token string) (store.User, []string, error)
}

// Options wires the API.
type Options struct {
	Cases        *cases.Service
	Directory    Directory
	Metrics      *metrics.Metrics
	Logger       *slog.Logger
	MaxBodyBytes int64
	// Ready reports whether the engine, database and workers are ready.
	Ready func(ctx context.Context) error
	// MailLinks serves the decision links of approval mail; nil when
	// email.base_url is not configured.
	MailLinks http.Handler
	// Slack serves /slack/commands, /slack/interactions and /slack/events,
	// which Slack signs; SlackLink issues the code a user types in Slack to
	// link their account. Both nil without a slack section.
	Slack     http.Handler
	SlackLink func(ctx context.Context, userID string) (string, time.Time, error)
}

type server struct {
	Options
}

// New returns the HTTP handler.
func New(o Options) http.Handler {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &server{Options: o}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	r.Use(s.recover, s.observe)
	r.NoRoute(func(c *gin.Context) { problem(c, http.StatusNotFound, "no such resource: "+c.Request.URL.Path) })
	r.NoMethod(func(c *gin.Context) {
		problem(c, http.StatusMethodNotAllowed, c.Request.Method+" is not allowed on "+c.Request.URL.Path)
	})

	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", s.readyz)
	if o.Metrics != nil {
		r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(o.Metrics.Registry, promhttp.HandlerOpts{})))
	}
	r.GET("/api/v1/openapi.json", func(c *gin.Context) { c.Data(http.StatusOK, "application/json", openAPIDocument()) })

	if o.Cases == nil {
		// kanri worker: health, readiness and metrics only.
		return r
	}
	// Decision links carry their own credential, a signed single-use
	// token, so they sit outside the bearer-token API.
	decide := func(c *gin.Context) {
		if s.MailLinks == nil {
			problem(c, http.StatusNotFound, "decision links are off: email.base_url is not configured")
			return
		}
		s.MailLinks.ServeHTTP(c.Writer, c.Request)
	}
	r.GET("/mail/decide", decide)
	r.POST("/mail/decide", decide)
	// Slack's requests carry its signature, checked on the raw body.
	slackRoute := func(c *gin.Context) {
		if s.Slack == nil {
			problem(c, http.StatusNotFound, "Slack is not configured")
			return
		}
		s.Slack.ServeHTTP(c.Writer, c.Request)
	}
	for _, p := range []string{"/slack/commands", "/slack/interactions", "/slack/events"} {
		r.POST(p, slackRoute)
	}
	v1 := r.Group("/api/v1", s.authenticate)
	v1.POST("/me/slack-link", s.slackLink)
	s.configurationRoutes(v1)
	for _, k := range cases.Kinds() {
		k := k
		g := v1.Group("/" + k.Name)
		g.GET("", func(c *gin.Context) { s.list(c, k) })
		g.GET("/:id", func(c *gin.Context) { s.get(c, k) })
		g.GET("/:id/history", func(c *gin.Context) { s.history(c, k) })
		if !k.ReadOnly {
			g.POST("", func(c *gin.Context) { s.create(c, k) })
			g.POST("/:id/actions", func(c *gin.Context) { s.act(c, k) })
		}
	}
	// Satisfaction surveys of closed incidents and requests (clause 7.1),
	// and the service reports (clause 6.2).
	for _, k := range cases.Kinds() {
		if !store.SurveyKind(k.Name) {
			continue
		}
		k := k
		v1.GET("/"+k.Name+"/:id/survey", func(c *gin.Context) { s.survey(c, k) })
		v1.POST("/"+k.Name+"/:id/survey", func(c *gin.Context) { s.answerSurvey(c, k) })
	}
	v1.GET("/reports/services", s.serviceReports)
	v1.GET("/reports/services/:id", s.serviceReport)
	return r
}

func (s *server) readyz(c *gin.Context) {
	if s.Ready != nil {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
		defer cancel()
		if err := s.Ready(ctx); err != nil {
			problem(c, http.StatusServiceUnavailable, "not ready: "+err.Error())
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

func (s *server) recover(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			s.Logger.Error("panic in handler", "path", c.Request.URL.Path, "panic", v)
			problem(c, http.StatusInternalServerError, "internal error")
		}
	}()
	c.Next()
}

// requestIDKey holds the request's id in the Gin context.
const requestIDKey = "kanri.request_id"

// requestID is the caller's X-Request-ID when it is a sane token, else a
// new one: it is answered in X-Request-ID and names the request in logs.
func requestID(c *gin.Context) string {
	if id := c.GetHeader("X-Request-ID"); len(id) > 0 && len(id) <= 64 && strings.Trim(id,
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:") == "" {
		return id
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *server) observe(c *gin.Context) {
	start := time.Now()
	id := requestID(c)
	c.Set(requestIDKey, id)
	c.Header("X-Request-ID", id)
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	took := time.Since(start)
	if s.Metrics != nil {
		s.Metrics.HTTPRequests.WithLabelValues(c.Request.Method, route, strconv.Itoa(c.Writer.Status())).Inc()
		s.Metrics.HTTPDuration.WithLabelValues(c.Request.Method, route).Observe(took.Seconds())
	}
	if route == "/healthz" || route == "/readyz" || route == "/metrics" {
		return // probes would drown the log
	}
	level := slog.LevelInfo
	if c.Writer.Status() >= 500 {
		level = slog.LevelError
	}
	s.Logger.Log(c.Request.Context(), level, "http", "request_id", id, "method", c.Request.Method,
		"path", c.Request.URL.Path, "status", c.Writer.Status(), "took", took.Round(time.Microsecond))
}

const actorKey = "kanri.actor"

func (s *server) authenticate(c *gin.Context) {
	const prefix = "Bearer "
	h := c.GetHeader("Authorization")
	if len(h) <= len(prefix) || h[:len(prefix)] != prefix {
		c.Header("WWW-Authenticate", `Bearer realm="kanri"`)
		problem(c, http.StatusUnauthorized, "an Authorization: Bearer <token> header is required")
		c.Abort()
		return
	}
	u, groups, err := s.Directory.UserByToken(c.Request.Context(), h[len(prefix):])
	if errors.Is(err, store.ErrNotFound) {
		c.Header("WWW-Authenticate", `Bearer realm="kanri", error="invalid_token"`)
		problem(c, http.StatusUnauthorized, "the token is not known")
		c.Abort()
		return
	}
	if err != nil {
		s.fail(c, err)
		c.Abort()
		return
	}
	c.Set(actorKey, workflows.Actor{ID: u.ID, Roles: u.Roles, Groups: groups})
	c.Next()
}

func actorOf(c *gin.Context) workflows.Actor {
	a, _ := c.Get(actorKey)
	return a.(workflows.Actor)
}

// statusClientClosedRequest is nginx's status for a request whose client
// closed the connection before the answer: it shows in access logs as what
// it is, not as a server error.
const statusClientClosedRequest = 499

// fail maps a case command's error to a problem document.
func (s *server) fail(c *gin.Context, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, cases.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, cases.ErrForbidden):
		status = http.StatusForbidden
	case errors.Is(err, cases.ErrConflict):
		status = http.StatusConflict
	case errors.Is(err, cases.ErrInvalid):
		status = http.StatusUnprocessableEntity
	case errors.Is(err, cases.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		status = http.StatusServiceUnavailable
	}
	if c.Request.Context().Err() != nil {
		// The client hung up: nobody reads the answer, and the error is its
		// cancel, in whatever shape the call it cut short reports it
		// (context.Canceled, a gRPC Canceled status, an update's
		// timeout-or-canceled error). What the request started (a case's
		// opening) goes on in its workflow.
		s.Logger.Info("client went away", "request_id", c.GetString(requestIDKey), "method", c.Request.Method, "path", c.Request.URL.Path)
		c.AbortWithStatus(statusClientClosedRequest)
		return
	}
	if status == http.StatusInternalServerError {
		s.Logger.Error("request failed", "request_id", c.GetString(requestIDKey), "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
		problem(c, status, "internal error; the server log has the details")
		return
	}
	problem(c, status, err.Error())
}

// problem writes an RFC 9457 problem document. Gin keeps a Content-Type
// that is already set, so the problem type survives the JSON rendering.
func problem(c *gin.Context, status int, detail string) {
	c.Header("Content-Type", "application/problem+json")
	c.AbortWithStatusJSON(status, gin.H{
		"type":   "about:blank",
		"title":  http.StatusText(status),
		"status": status,
		"detail": detail,
	})
}

// slackLink issues the one-time code a user types in Slack ("/kanri link
// <code>") to link their Slack account to their Kanri user.
func (s *server) slackLink(c *gin.Context) {
	if s.SlackLink == nil {
		problem(c, http.StatusNotFound, "Slack is not configured")
		return
	}
	code, expires, err := s.SlackLink(c.Request.Context(), actorOf(c).ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"code": code, "expires_at": expires, "usage": "type /kanri link " + code + " in Slack"})
}
