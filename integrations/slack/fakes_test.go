package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/store"
	"github.com/kanri-itsm/kanri/workflows"
)

// fakeCases stands in for the case commands with the rules the connector
// relies on: who may read, approval by a quorum of a group where the
// requester may not decide and one person decides once, confirm and
// reopen by the caller, and an update id that applies once.
type fakeCases struct {
	now func() time.Time

	mu       sync.Mutex
	seq      map[string]int
	recs     map[string]*fakeCase
	applied  map[string]json.RawMessage // requestID -> result
	acts     []fakeAct
	opened   []fakeOpen
	gate     chan struct{} // when set, OpenIncident waits for it
	services []string
}

type fakeCase struct {
	ID          string              `json:"id"`
	Kind        string              `json:"kind"`
	Title       string              `json:"title"`
	Description string              `json:"description"`
	Status      string              `json:"status"`
	Type        string              `json:"type,omitempty"`
	Service     string              `json:"service,omitempty"`
	Services    []string            `json:"services,omitempty"`
	Impact      string              `json:"impact,omitempty"`
	Urgency     string              `json:"urgency,omitempty"`
	Priority    string              `json:"priority,omitempty"`
	Item        string              `json:"item,omitempty"`
	ItemName    string              `json:"item_name,omitempty"`
	Caller      string              `json:"caller,omitempty"`
	CreatedBy   string              `json:"created_by"`
	Major       bool                `json:"major"`
	Resolution  string              `json:"resolution,omitempty"`
	Assessment  map[string]string   `json:"assessment,omitempty"`
	Schedule    map[string]string   `json:"schedule,omitempty"`
	Approval    *workflows.Quorum   `json:"approval,omitempty"`
	Approvals   workflows.Approvals `json:"approvals"`
	UpdatedAt   time.Time           `json:"updated_at"`
}

type fakeAct struct {
	Kind      string
	ID        string
	Action    workflows.Action
	RequestID string
	Err       error
}

type fakeOpen struct {
	Actor  workflows.Actor
	Source string
	Rec    fakeCase
}

func newFakeCases(now func() time.Time) *fakeCases {
	return &fakeCases{now: now, seq: map[string]int{}, recs: map[string]*fakeCase{}, applied: map[string]json.RawMessage{},
		services: []string{"email", "vpn"}}
}

func fail(class error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", class, fmt.Sprintf(format, args...))
}

func (f *fakeCases) add(c fakeCase) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c.Approvals == nil {
		c.Approvals = workflows.Approvals{}
	}
	f.recs[c.ID] = &c
}

func (f *fakeCases) record(id string) fakeCase {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *f.recs[id]
}

func (f *fakeCases) actions() []fakeAct {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.acts)
}

func (f *fakeCases) opens() []fakeOpen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.opened)
}

func (f *fakeCases) newID(kind, prefix string) string {
	f.seq[kind]++
	return fmt.Sprintf("%s-%06d", prefix, f.seq[kind])
}

func marshal(c *fakeCase) json.RawMessage {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err)
	}
	return b
}

func (f *fakeCases) OpenIncident(ctx context.Context, actor workflows.Actor, in cases.OpenIncident, source string) (json.RawMessage, error) {
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.TrimSpace(in.Title) == "" {
		return nil, fail(cases.ErrInvalid, "title is required")
	}
	if !slices.Contains(f.services, in.Service) {
		return nil, fail(cases.ErrInvalid, "service %q is not in the service catalogue", in.Service)
	}
	c := &fakeCase{ID: f.newID("incidents", "INC"), Kind: "incidents", Title: in.Title, Description: in.Description,
		Status: "logged", Service: in.Service, Impact: in.Impact, Urgency: in.Urgency, Priority: "P3",
		Caller: actor.ID, CreatedBy: actor.ID, Approvals: workflows.Approvals{}, UpdatedAt: f.now()}
	f.recs[c.ID] = c
	f.opened = append(f.opened, fakeOpen{Actor: actor, Source: source, Rec: *c})
	return marshal(c), nil
}

func (f *fakeCases) OpenRequest(_ context.Context, actor workflows.Actor, in cases.OpenRequest, source string) (json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in.Item != "laptop" && in.Item != "vpn-access" {
		return nil, fail(cases.ErrInvalid, "item %q is not in the request catalogue", in.Item)
	}
	c := &fakeCase{ID: f.newID("requests", "REQ"), Kind: "requests", Title: in.Title, Description: in.Description,
		Status: "logged", Item: in.Item, Service: in.Service, Caller: actor.ID, CreatedBy: actor.ID,
		Approvals: workflows.Approvals{}, UpdatedAt: f.now()}
	f.recs[c.ID] = c
	f.opened = append(f.opened, fakeOpen{Actor: actor, Source: source, Rec: *c})
	return marshal(c), nil
}

func (f *fakeCases) OpenComplaint(_ context.Context, actor workflows.Actor, in cases.OpenComplaint, source string) (json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := &fakeCase{ID: f.newID("complaints", "CMP"), Kind: "complaints", Title: in.Title, Description: in.Description,
		Status: "received", Caller: actor.ID, CreatedBy: actor.ID, Approvals: workflows.Approvals{}, UpdatedAt: f.now()}
	f.recs[c.ID] = c
	f.opened = append(f.opened, fakeOpen{Actor: actor, Source: source, Rec: *c})
	return marshal(c), nil
}

func canRead(a workflows.Actor, c *fakeCase) bool {
	return a.Has(policy.RoleAgent, policy.RoleAdmin, policy.RoleProcessOwner) || c.CreatedBy == a.ID || c.Caller == a.ID
}

func (f *fakeCases) Get(_ context.Context, kind cases.Kind, id string, actor workflows.Actor) (json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.recs[id]
	if !ok || c.Kind != kind.Name || !canRead(actor, c) {
		return nil, fail(cases.ErrNotFound, "%s %s does not exist", strings.TrimSuffix(kind.Name, "s"), id)
	}
	return marshal(c), nil
}

func (f *fakeCases) List(_ context.Context, kind cases.Kind, actor workflows.Actor, q cases.ListQuery) ([]json.RawMessage, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for id, c := range f.recs {
		if c.Kind != kind.Name || !canRead(actor, c) {
			continue
		}
		if q.RaisedBy != "" && c.CreatedBy != q.RaisedBy && c.Caller != q.RaisedBy {
			continue
		}
		if len(q.Statuses) > 0 && !slices.Contains(q.Statuses, c.Status) {
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	slices.Reverse(ids)
	out := make([]json.RawMessage, len(ids))
	for i, id := range ids {
		out[i] = marshal(f.recs[id])
	}
	return out, "", nil
}

func (f *fakeCases) Act(_ context.Context, kind cases.Kind, id string, a workflows.Action, requestID string) (json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, err := f.act(kind, id, a, requestID)
	f.acts = append(f.acts, fakeAct{Kind: kind.Name, ID: id, Action: a, RequestID: requestID, Err: err})
	return rec, err
}

func (f *fakeCases) act(kind cases.Kind, id string, a workflows.Action, requestID string) (json.RawMessage, error) {
	if rec, ok := f.applied[requestID]; ok && requestID != "" {
		return rec, nil // an update id applies once; the repeat answers as the first did
	}
	c, ok := f.recs[id]
	if !ok || c.Kind != kind.Name {
		return nil, fail(cases.ErrNotFound, "%s does not exist", id)
	}
	who := a.Actor
	switch a.Action {
	case "approve", "reject":
		if who.ID == c.CreatedBy || who.ID == c.Caller {
			return nil, fail(cases.ErrForbidden, "%s requested %s and may not decide on it", who.ID, id)
		}
		if c.Approval == nil || !who.InGroup(c.Approval.Group) {
			return nil, fail(cases.ErrForbidden, "%s is not in the approving group of %s", who.ID, id)
		}
		if c.Status != awaitingApproval {
			return nil, fail(cases.ErrConflict, "%s cannot %s a case that is %s", who.ID, a.Action, c.Status)
		}
		if c.Approvals.DecidedBy(who.ID) {
			return nil, fail(cases.ErrConflict, "%s has already decided on %s", who.ID, id)
		}
		d := "approved"
		if a.Action == "reject" {
			d = "rejected"
		}
		c.Approvals = append(c.Approvals, workflows.Approval{By: who.ID, At: f.now().UTC(), Decision: d, Comment: a.Comment})
		switch {
		case d == "rejected":
			c.Status = "rejected"
		case c.Approvals.Approved() >= c.Approval.Quorum:
			c.Status = "approved"
		}
	case "confirm":
		if who.ID != c.Caller {
			return nil, fail(cases.ErrForbidden, "%s may not confirm %s", who.ID, id)
		}
		if c.Status != "resolved" {
			return nil, fail(cases.ErrConflict, "%s cannot confirm an incident that is %s", who.ID, c.Status)
		}
		c.Status = "closed"
	case "reopen":
		if who.ID != c.Caller {
			return nil, fail(cases.ErrForbidden, "%s may not reopen %s", who.ID, id)
		}
		if c.Status != "resolved" {
			return nil, fail(cases.ErrConflict, "%s cannot reopen an incident that is %s", who.ID, c.Status)
		}
		if a.Reason == "" {
			return nil, fail(cases.ErrInvalid, "reopen needs a reason")
		}
		c.Status = "in_progress"
	default:
		return nil, fail(cases.ErrInvalid, "unknown action %q", a.Action)
	}
	c.UpdatedAt = f.now()
	rec := marshal(c)
	if requestID != "" {
		f.applied[requestID] = rec
	}
	return rec, nil
}

// memOutbox is the notifications table in memory.
type memOutbox struct {
	mu           sync.Mutex
	notes        []store.Notification
	failMarkSent int // the next n MarkNotificationSent calls fail
}

func (o *memOutbox) add(n store.Notification) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n.ID = int64(len(o.notes) + 1)
	if n.Channel == "" {
		n.Channel = Channel
	}
	o.notes = append(o.notes, n)
}

func (o *memOutbox) get(id int64) store.Notification {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.notes[id-1]
}

func (o *memOutbox) PendingNotifications(_ context.Context, channel string, limit int) ([]store.Notification, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []store.Notification
	for _, n := range o.notes {
		if n.SentAt == nil && n.Channel == channel && len(out) < limit {
			out = append(out, n)
		}
	}
	return out, nil
}

func (o *memOutbox) MarkNotificationSent(_ context.Context, id int64, at time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.failMarkSent > 0 {
		o.failMarkSent--
		return fmt.Errorf("database is locked")
	}
	n := &o.notes[id-1]
	if n.SentAt == nil {
		n.SentAt = &at
		n.Attempts++
		n.LastError = ""
	}
	return nil
}

func (o *memOutbox) MarkNotificationFailed(_ context.Context, id int64, reason string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := &o.notes[id-1]
	n.Attempts++
	n.LastError = reason
	return nil
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer collects log lines from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const (
	testTeam   = "T0KANRI"
	testSecret = "8f742231b10e8888abcd99yyyzzz85a5"
)

// env is a Connector wired to fakes: a fake Slack, fake case commands and
// the memory stores, with a settable clock.
type env struct {
	t      *testing.T
	slack  *fakeSlack
	cases  *fakeCases
	dir    *MemoryDirectory
	msgs   *MemoryMessages
	replay *MemoryReplayCache
	clock  *clock
	logs   *syncBuffer
	c      *Connector
	h      http.Handler

	mu     sync.Mutex
	sleeps []time.Duration
}

var (
	alice = workflows.Actor{ID: "alice", Roles: []string{policy.RoleRequester}}
	agnes = workflows.Actor{ID: "agnes", Roles: []string{policy.RoleAgent}, Groups: []string{"service-desk"}}
	rita  = workflows.Actor{ID: "rita", Roles: []string{policy.RoleAgent}, Groups: []string{"cab"}}
	bob   = workflows.Actor{ID: "bob", Roles: []string{policy.RoleRequester}, Groups: []string{"cab"}}
	carol = workflows.Actor{ID: "carol", Roles: []string{policy.RoleRequester}, Groups: []string{"cab"}}
	dave  = workflows.Actor{ID: "dave", Roles: []string{policy.RoleRequester}, Groups: []string{"cab"}}
)

func newEnv(t *testing.T, tweak ...func(*Config, *Deps)) *env {
	t.Helper()
	e := &env{t: t, slack: newFakeSlack(t), dir: NewMemoryDirectory(), msgs: NewMemoryMessages(),
		replay: NewMemoryReplayCache(), clock: &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}, logs: &syncBuffer{}}
	e.cases = newFakeCases(e.clock.now)
	e.dir.AddUser(alice, "U0ALICE")
	e.dir.AddUser(agnes, "U0AGNES")
	e.dir.AddUser(rita, "U0RITA")
	e.dir.AddUser(bob, "U0BOB")
	e.dir.AddUser(carol, "U0CAROL")
	e.dir.AddUser(dave, "U0DAVE")
	cfg := Config{
		TeamID: testTeam, BotToken: "xoxb-test", SigningSecret: testSecret, AppToken: "xapp-test",
		APIURL: e.slack.apiURL(), BaseURL: "https://kanri.example.com",
		Channels: Channels{MajorIncidents: "C0MAJOR", Approvals: "C0CAB"},
		Groups:   map[string]string{"service-desk": "C0DESK"},
	}
	d := Deps{
		Cases: e.cases, Directory: e.dir, Messages: e.msgs, Replay: e.replay,
		Catalogue: Catalogue{
			Services: []Choice{{"email", "Corporate email"}, {"vpn", "VPN"}},
			Items:    []Choice{{"laptop", "New laptop"}, {"vpn-access", "VPN access"}},
		},
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    e.clock.now,
		Sleep: func(ctx context.Context, d time.Duration) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.sleeps = append(e.sleeps, d)
			return ctx.Err()
		},
	}
	for _, f := range tweak {
		f(&cfg, &d)
	}
	c, err := New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	e.c, e.h = c, c.Handler()
	return e
}

// settle waits for the jobs started so far. Requests go through ServeHTTP
// on the test's goroutine, so every job was started before this call.
func (e *env) settle() { e.c.jobs.wg.Wait() }

// request builds a signed request sent now.
func (e *env) request(path, body string) *http.Request {
	return e.signedAt(path, body, e.clock.now())
}

func (e *env) signedAt(path, body string, at time.Time) *http.Request {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	ts := strconv.FormatInt(at.Unix(), 10)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set(headerTimestamp, ts)
	r.Header.Set(headerSignature, Sign(testSecret, ts, []byte(body)))
	return r
}

func (e *env) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// command sends /kanri <text> as a Slack user and waits for its job.
func (e *env) command(user, text string) *httptest.ResponseRecorder {
	e.t.Helper()
	e.clock.advance(time.Second) // each request is signed anew, as Slack does
	w := e.serve(e.request(PathCommands, commandBody(user, text, e.slack.responseURL("cmd-"+user))))
	if w.Code != http.StatusOK {
		e.t.Fatalf("command %q: %d %s", text, w.Code, w.Body)
	}
	e.settle()
	return w
}

func commandBody(user, text, responseURL string) string {
	return url.Values{
		"team_id": {testTeam}, "user_id": {user}, "command": {"/kanri"}, "text": {text},
		"response_url": {responseURL}, "trigger_id": {"trig-" + user}, "channel_id": {"C0GENERAL"},
	}.Encode()
}

// interact sends an interaction payload and waits for its job.
func (e *env) interact(payload map[string]any) *httptest.ResponseRecorder {
	e.t.Helper()
	raw, err := json.Marshal(payload)
	if err != nil {
		e.t.Fatal(err)
	}
	e.clock.advance(time.Second)
	w := e.serve(e.request(PathInteractions, url.Values{"payload": {string(raw)}}.Encode()))
	e.settle()
	return w
}

// click is a block_actions payload: user clicks a button of a message.
func (e *env) click(user, actionID, value, channel, ts string) map[string]any {
	return map[string]any{
		"type":         "block_actions",
		"team":         map[string]any{"id": testTeam},
		"user":         map[string]any{"id": user},
		"trigger_id":   "trig-click-" + user,
		"response_url": e.slack.responseURL("click-" + user),
		"container":    map[string]any{"type": "message", "channel_id": channel, "message_ts": ts},
		"channel":      map[string]any{"id": channel},
		"actions": []map[string]any{{
			"action_id": actionID, "block_id": "kanri_block", "value": value, "type": "button",
			"action_ts": fmt.Sprintf("%d.000100", e.clock.now().Unix()),
		}},
	}
}

// submission is a view_submission payload of a modal.
func submission(user, callback, viewID, meta string, values map[string]map[string]any) map[string]any {
	state := map[string]any{}
	for block, v := range values {
		state[block] = map[string]any{inValue: v}
	}
	return map[string]any{
		"type": "view_submission",
		"team": map[string]any{"id": testTeam},
		"user": map[string]any{"id": user},
		"view": map[string]any{
			"id": viewID, "callback_id": callback, "private_metadata": meta, "hash": "h1",
			"state": map[string]any{"values": state},
		},
	}
}

func textValue(s string) map[string]any {
	return map[string]any{"type": "plain_text_input", "value": s}
}
func selected(s string) map[string]any {
	return map[string]any{"type": "static_select", "selected_option": map[string]any{"value": s}}
}

func (e *env) sleepsSoFar() []time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.sleeps)
}

// responses are the posts to the response URL of a name, oldest first.
func (e *env) responses(name string) []apiCall {
	var out []apiCall
	for _, c := range e.slack.callsTo("response_url") {
		if c.Path == "/response/"+name {
			out = append(out, c)
		}
	}
	return out
}

// lastResponse is the text and blocks of the latest post to a response URL.
func (e *env) lastResponse(name string) string {
	e.t.Helper()
	rs := e.responses(name)
	if len(rs) == 0 {
		e.t.Fatalf("nothing was posted to response URL %s; calls: %+v", name, e.slack.allCalls())
	}
	return rs[len(rs)-1].everything()
}
