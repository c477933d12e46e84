package slack

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSignedCommandIsAnsweredThroughResponseURL(t *testing.T) {
	e := newEnv(t)
	e.cases.add(fakeCase{ID: "INC-000042", Kind: "incidents", Title: "Mail is down", Status: "in_progress", Caller: "alice", CreatedBy: "alice", Priority: "P2"})

	w := e.command("U0ALICE", "status inc-000042")
	if w.Body.Len() != 0 {
		t.Errorf("the acknowledgement should be empty, got %q", w.Body)
	}
	got := e.lastResponse("cmd-U0ALICE")
	for _, want := range []string{"INC-000042", "Mail is down", "in_progress", "P2"} {
		if !strings.Contains(got, want) {
			t.Errorf("status answer lacks %q: %s", want, got)
		}
	}
	if rs := e.responses("cmd-U0ALICE"); rs[0].JSON["response_type"] != "ephemeral" {
		t.Errorf("status answer should be ephemeral: %v", rs[0].JSON)
	}
}

// Forged, stale, replayed and tampered requests change nothing and are
// answered 401, with the reason logged.
func TestRefusedRequestsChangeNothing(t *testing.T) {
	body := commandBody("U0ALICE", "mine", "")
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	ts := strconv.FormatInt(now.Unix(), 10)
	cases := []struct {
		name   string
		req    func(e *env) *http.Request
		reason string
	}{
		{"unsigned", func(e *env) *http.Request {
			return httptest.NewRequest(http.MethodPost, PathCommands, strings.NewReader(body))
		}, "unsigned"},
		{"signature without timestamp", func(e *env) *http.Request {
			r := e.request(PathCommands, body)
			r.Header.Del(headerTimestamp)
			return r
		}, "unsigned"},
		{"wrong secret", func(e *env) *http.Request {
			r := e.request(PathCommands, body)
			r.Header.Set(headerSignature, Sign("not-the-secret", ts, []byte(body)))
			return r
		}, "bad signature"},
		{"stale", func(e *env) *http.Request { return e.signedAt(PathCommands, body, now.Add(-6*time.Minute)) }, "stale"},
		{"from the future", func(e *env) *http.Request { return e.signedAt(PathCommands, body, now.Add(6*time.Minute)) }, "stale"},
		{"tampered", func(e *env) *http.Request {
			r := e.request(PathCommands, body)
			forged := strings.Replace(body, "mine", "status+INC-000001", 1)
			return withBody(r, forged)
		}, "bad signature"},
		{"malformed signature", func(e *env) *http.Request {
			r := e.request(PathCommands, body)
			r.Header.Set(headerSignature, "v1=abc")
			return r
		}, "malformed"},
		{"another workspace", func(e *env) *http.Request {
			return e.request(PathCommands, strings.Replace(body, testTeam, "T0EVIL", 1))
		}, "not the configured workspace"},
		{"another workspace, interaction", func(e *env) *http.Request {
			p := e.click("U0BOB", actApprove, "changes/CHG-000001", "C0CAB", "1.1")
			p["team"] = map[string]any{"id": "T0EVIL"}
			raw, _ := json.Marshal(p)
			return e.request(PathInteractions, url.Values{"payload": {string(raw)}}.Encode())
		}, "not the configured workspace"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			w := e.serve(tc.req(e))
			e.settle()
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", w.Code)
			}
			if calls := e.slack.allCalls(); len(calls) != 0 {
				t.Errorf("a refused request reached Slack: %+v", calls)
			}
			if acts := e.cases.actions(); len(acts) != 0 {
				t.Errorf("a refused request acted: %+v", acts)
			}
			if logs := e.logs.String(); !strings.Contains(logs, "request refused") || !strings.Contains(logs, tc.reason) {
				t.Errorf("the reason %q is not logged:\n%s", tc.reason, logs)
			}
		})
	}
}

func withBody(r *http.Request, body string) *http.Request {
	r2 := httptest.NewRequest(r.Method, r.URL.Path, strings.NewReader(body))
	r2.Header = r.Header.Clone()
	return r2
}

func TestReplayedRequestIsRefused(t *testing.T) {
	e := newEnv(t)
	req := e.request(PathCommands, commandBody("U0ALICE", "mine", e.slack.responseURL("cmd")))
	replay := withBody(req, commandBody("U0ALICE", "mine", e.slack.responseURL("cmd")))

	if w := e.serve(req); w.Code != http.StatusOK {
		t.Fatalf("first delivery: %d", w.Code)
	}
	e.settle()
	e.clock.advance(30 * time.Second) // still inside the five minutes
	if w := e.serve(replay); w.Code != http.StatusUnauthorized {
		t.Fatalf("replay: %d, want 401", w.Code)
	}
	e.settle()
	if n := len(e.responses("cmd")); n != 1 {
		t.Errorf("the command was answered %d times, want 1", n)
	}
	if !strings.Contains(e.logs.String(), "replayed") {
		t.Errorf("the replay is not logged:\n%s", e.logs)
	}
}

func TestURLVerificationChallengeIsAnswered(t *testing.T) {
	e := newEnv(t)
	body := `{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`
	w := e.serve(e.request(PathEvents, body))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var got map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got["challenge"] != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Errorf("challenge answer %q (%v)", w.Body, err)
	}

	unsigned := httptest.NewRequest(http.MethodPost, PathEvents, strings.NewReader(body))
	if w := e.serve(unsigned); w.Code != http.StatusUnauthorized {
		t.Errorf("an unsigned challenge was answered %d", w.Code)
	}
}

// A retried event (X-Slack-Retry-Num) is acknowledged and not done again.
func TestRetriedEventIsDoneOnce(t *testing.T) {
	e := newEnv(t)
	body := `{"type":"event_callback","team_id":"` + testTeam + `","event_id":"Ev0001","event_time":1700000000,` +
		`"event":{"type":"app_mention","user":"U0ALICE","channel":"C0GENERAL","text":"<@U0KANRI> help","ts":"1700000000.000100"}}`
	if w := e.serve(e.request(PathEvents, body)); w.Code != http.StatusOK {
		t.Fatalf("first delivery: %d", w.Code)
	}
	e.settle()

	// Slack retries with a fresh signature after its timeout.
	e.clock.advance(time.Minute)
	retry := e.request(PathEvents, body)
	retry.Header.Set(headerRetryNum, "1")
	retry.Header.Set(headerRetryReason, "http_timeout")
	if w := e.serve(retry); w.Code != http.StatusOK {
		t.Fatalf("retry: %d, want 200 so Slack stops", w.Code)
	}
	e.settle()

	posts := e.slack.callsTo("chat.postMessage")
	if len(posts) != 1 {
		t.Fatalf("the mention was answered %d times, want 1", len(posts))
	}
	if posts[0].Form.Get("thread_ts") != "1700000000.000100" || !strings.Contains(posts[0].text(), "/kanri incident") {
		t.Errorf("the answer should be the help, in the thread: %+v", posts[0].Form)
	}
}

func TestEventOfAnotherWorkspaceIsRefused(t *testing.T) {
	e := newEnv(t)
	body := `{"type":"event_callback","team_id":"T0EVIL","event_id":"Ev0002","event":{"type":"app_mention","user":"U1","channel":"C1","ts":"1.1"}}`
	if w := e.serve(e.request(PathEvents, body)); w.Code != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", w.Code)
	}
	e.settle()
	if n := len(e.slack.allCalls()); n != 0 {
		t.Errorf("%d calls to Slack", n)
	}
}

func TestBodyOverTheLimitIsRefused(t *testing.T) {
	e := newEnv(t, func(_ *Config, d *Deps) { d.MaxBodyBytes = 512 })
	body := commandBody("U0ALICE", "incident "+strings.Repeat("x", 600), "")
	w := e.serve(e.request(PathCommands, body))
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", w.Code)
	}
	e.settle()
	if n := len(e.slack.allCalls()); n != 0 {
		t.Errorf("%d calls to Slack", n)
	}
}

func TestOnlyPostToTheThreeEndpoints(t *testing.T) {
	e := newEnv(t)
	if w := e.serve(httptest.NewRequest(http.MethodGet, PathCommands, nil)); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", w.Code)
	}
	if w := e.serve(e.request("/slack/other", "x=1")); w.Code != http.StatusNotFound {
		t.Errorf("unknown path: %d", w.Code)
	}
	if w := e.serve(e.request(PathInteractions, "payload=%7Bnot+json")); w.Code != http.StatusBadRequest {
		t.Errorf("malformed payload: %d", w.Code)
	}
}

// Every request is answered at once: the case command runs after the
// acknowledgement, and its answer comes through the response URL.
func TestAcknowledgesBeforeTheWorkIsDone(t *testing.T) {
	e := newEnv(t)
	gate := make(chan struct{})
	e.cases.gate = gate
	meta := modalMeta{ResponseURL: e.slack.responseURL("cmd-U0ALICE")}.encode()
	raw, _ := json.Marshal(submission("U0ALICE", cbIncident, "V1", meta, map[string]map[string]any{
		inTitle: textValue("Printer on fire"), inService: selected("email"), inImpact: selected("high"), inUrgency: selected("high"),
	}))

	start := time.Now()
	w := e.serve(e.request(PathInteractions, url.Values{"payload": {string(raw)}}.Encode()))
	if w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Fatalf("acknowledgement: %d %q", w.Code, w.Body)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the acknowledgement took %s", d)
	}
	if len(e.cases.opens()) != 0 {
		t.Fatal("the incident was opened before the acknowledgement")
	}
	close(gate)
	e.settle()
	if !strings.Contains(e.lastResponse("cmd-U0ALICE"), "INC-000001") {
		t.Errorf("the result did not come back through the response URL")
	}
}

func TestBusyConnectorSaysSoAndDoesNothing(t *testing.T) {
	e := newEnv(t, func(_ *Config, d *Deps) { d.MaxInFlight = 1 })
	gate := make(chan struct{})
	e.cases.gate = gate
	// Hold the only slot with a submission that waits for the gate.
	meta := modalMeta{ResponseURL: e.slack.responseURL("slow")}.encode()
	raw, _ := json.Marshal(submission("U0ALICE", cbIncident, "V9", meta, map[string]map[string]any{
		inTitle: textValue("Slow"), inService: selected("email"), inImpact: selected("low"), inUrgency: selected("low"),
	}))
	if w := e.serve(e.request(PathInteractions, url.Values{"payload": {string(raw)}}.Encode())); w.Code != http.StatusOK {
		t.Fatalf("first: %d", w.Code)
	}

	w := e.serve(e.request(PathCommands, commandBody("U0ALICE", "mine", e.slack.responseURL("x"))))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "busy") {
		t.Errorf("a command while busy: %d %s", w.Code, w.Body)
	}
	ev := `{"type":"event_callback","team_id":"` + testTeam + `","event_id":"Ev0003","event":{"type":"app_mention","user":"U0ALICE","channel":"C1","ts":"1.1"}}`
	if w := e.serve(e.request(PathEvents, ev)); w.Code != http.StatusServiceUnavailable {
		t.Errorf("an event while busy: %d, want 503 so that Slack retries", w.Code)
	}
	close(gate)
	e.settle()

	// The event was not remembered: Slack's retry (signed anew) is done.
	e.clock.advance(time.Minute)
	if w := e.serve(e.request(PathEvents, ev)); w.Code != http.StatusOK {
		t.Fatalf("retry: %d", w.Code)
	}
	e.settle()
	if n := len(e.slack.callsTo("chat.postMessage")); n != 1 {
		t.Errorf("the retried event was answered %d times, want 1", n)
	}
	if n := len(e.responses("x")); n != 0 {
		t.Errorf("the refused command did work")
	}
}

func TestCloseWaitsForJobsAndRefusesNewOnes(t *testing.T) {
	e := newEnv(t)
	gate := make(chan struct{})
	e.cases.gate = gate
	meta := modalMeta{ResponseURL: e.slack.responseURL("late")}.encode()
	raw, _ := json.Marshal(submission("U0ALICE", cbIncident, "V7", meta, map[string]map[string]any{
		inTitle: textValue("x"), inService: selected("email"), inImpact: selected("low"), inUrgency: selected("low"),
	}))
	e.serve(e.request(PathInteractions, url.Values{"payload": {string(raw)}}.Encode()))

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.c.Close(ctx); err == nil {
		t.Fatal("Close returned before the job was done")
	}
	// Cancelled: the job's context ended, and it returned.
	if len(e.cases.opens()) != 0 {
		t.Error("the cancelled job opened a case")
	}
	w := e.serve(e.request(PathCommands, commandBody("U0ALICE", "mine", e.slack.responseURL("y"))))
	if !strings.Contains(w.Body.String(), "busy") {
		t.Errorf("a command after Close: %s", w.Body)
	}
	close(gate)
}
