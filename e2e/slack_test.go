package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kanri-itsm/kanri/integrations/slack"
)

// slackAPI stands in for Slack's Web API and its response URLs: it
// answers what Kanri calls and keeps every call.
type slackAPI struct {
	srv   *httptest.Server
	mu    sync.Mutex
	calls []slackCall
	seq   int
}

type slackCall struct {
	method string
	form   url.Values
	body   string
}

func startSlackAPI(t *testing.T) *slackAPI {
	s := &slackAPI{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(b))
		s.mu.Lock()
		s.seq++
		seq := s.seq
		method := strings.TrimPrefix(r.URL.Path, "/api/")
		if strings.HasPrefix(r.URL.Path, "/response/") {
			method = "response_url"
		}
		s.calls = append(s.calls, slackCall{method: method, form: form, body: string(b)})
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		ts := fmt.Sprintf("1700000000.%06d", seq)
		var out map[string]any
		switch method {
		case "chat.postMessage":
			ch := form.Get("channel")
			if strings.HasPrefix(ch, "U") {
				ch = "D" + ch[1:]
			}
			out = map[string]any{"ok": true, "channel": ch, "ts": ts}
		case "chat.update":
			out = map[string]any{"ok": true, "channel": form.Get("channel"), "ts": form.Get("ts")}
		case "views.open":
			out = map[string]any{"ok": true, "view": map[string]any{"id": "V" + strconv.Itoa(seq)}}
		case "chat.getPermalink":
			out = map[string]any{"ok": true, "permalink": "https://acme.slack.com/archives/x"}
		default:
			out = map[string]any{"ok": true}
		}
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *slackAPI) callsTo(method string) []slackCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []slackCall
	for _, c := range s.calls {
		if c.method == method {
			out = append(out, c)
		}
	}
	return out
}

// wait polls until cond holds.
func wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not happen", what)
}

const slackSecret = "e2e-signing-secret"

// slackPost sends a request as Slack does, signed at ts.
func slackPost(t *testing.T, k *kanri, path, body string, ts time.Time, secret string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", k.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	stamp := strconv.FormatInt(ts.Unix(), 10)
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", slack.Sign(secret, stamp, []byte(body)))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func interaction(payload map[string]any) string {
	b, _ := json.Marshal(payload)
	return url.Values{"payload": {string(b)}}.Encode()
}

// TestSlack: a slash command opens an incident; a change that reaches
// awaiting approval posts messages to its approvers; two approvers' clicks
// approve it and every message is updated; the requester's click is
// refused with a reason the requester sees; forged, stale and replayed
// requests change nothing and are answered 401.
func TestSlack(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts the embedded engine")
	}
	api := startSlackAPI(t)
	cfg := config
	for _, u := range []struct{ id, slack string }{{"alice", "U0ALICE"}, {"cab1", "U0CAB1"}, {"cab2", "U0CAB2"}} {
		cfg = strings.Replace(cfg, "{id: "+u.id+", ", "{id: "+u.id+", slack_id: "+u.slack+", ", 1)
	}
	cfg += fmt.Sprintf(`
slack:
  team_id: T0E2E
  bot_token: xoxb-e2e
  signing_secret: %s
  api_url: %s/api/
  channels: {approvals: C0APPROVALS, major_incidents: C0MAJOR}
  groups: {cab: C0CAB}
`, slackSecret, api.srv.URL)
	k := startConfig(t, cfg, filepath.Join(t.TempDir(), "kanri.db"), "")

	// A slash command opens the incident modal; submitting it opens the
	// incident.
	cmd := url.Values{"team_id": {"T0E2E"}, "user_id": {"U0ALICE"}, "command": {"/kanri"}, "text": {"incident Printer on fire"},
		"response_url": {api.srv.URL + "/response/cmd"}, "trigger_id": {"trig-1"}, "channel_id": {"C0GENERAL"}}.Encode()
	if st := slackPost(t, k, "/slack/commands", cmd, time.Now(), slackSecret); st != 200 {
		t.Fatalf("slash command: %d", st)
	}
	wait(t, "views.open", func() bool { return len(api.callsTo("views.open")) == 1 })
	var view struct {
		PrivateMetadata string `json:"private_metadata"`
	}
	_ = json.Unmarshal([]byte(api.callsTo("views.open")[0].form.Get("view")), &view)
	value := func(v map[string]any) map[string]any { return map[string]any{"value": v} }
	text := func(s string) map[string]any { return value(map[string]any{"type": "plain_text_input", "value": s}) }
	sel := func(s string) map[string]any {
		return value(map[string]any{"type": "static_select", "selected_option": map[string]any{"value": s}})
	}
	submit := interaction(map[string]any{"type": "view_submission", "team": map[string]any{"id": "T0E2E"}, "user": map[string]any{"id": "U0ALICE"},
		"view": map[string]any{"id": "V1", "callback_id": "kanri_incident", "private_metadata": view.PrivateMetadata, "hash": "h",
			"state": map[string]any{"values": map[string]any{"title": text("Printer on fire"), "service": sel("email"),
				"impact": sel("high"), "urgency": sel("medium"), "description": text("Smoke from tray 2")}}}})
	if st := slackPost(t, k, "/slack/interactions", submit, time.Now(), slackSecret); st != 200 {
		t.Fatalf("modal submission: %d", st)
	}
	var incident map[string]any
	wait(t, "the incident from Slack", func() bool {
		for _, it := range k.must(200, "GET", "/api/v1/incidents?limit=200", "admin-token", nil)["items"].([]any) {
			if m := it.(map[string]any); m["title"] == "Printer on fire" {
				incident = m
				return true
			}
		}
		return false
	})
	if incident["created_by"] != "alice" || incident["priority"] != "P2" || !strings.HasPrefix(lastAction(k.history("incidents", incident["id"].(string)), "open")["detail"].(map[string]any)["source"].(string), "slack") {
		t.Fatalf("incident from Slack: %v", incident)
	}

	// Forged, stale and replayed requests are refused and change nothing.
	again := url.Values{"team_id": {"T0E2E"}, "user_id": {"U0ALICE"}, "command": {"/kanri"}, "text": {"incident Forged"},
		"response_url": {api.srv.URL + "/response/x"}, "trigger_id": {"trig-2"}, "channel_id": {"C0GENERAL"}}.Encode()
	if st := slackPost(t, k, "/slack/commands", again, time.Now(), "not-the-secret"); st != 401 {
		t.Fatalf("a forged request: %d", st)
	}
	if st := slackPost(t, k, "/slack/commands", again, time.Now().Add(-10*time.Minute), slackSecret); st != 401 {
		t.Fatalf("a stale request: %d", st)
	}
	// Signed again at another second, the same command is a new request.
	if st := slackPost(t, k, "/slack/commands", cmd, time.Now().Add(2*time.Second), slackSecret); st != 200 {
		t.Fatalf("a fresh signature on the first command: %d", st)
	}
	replayAt := time.Now().Add(3 * time.Second)
	if st := slackPost(t, k, "/slack/interactions", submit, replayAt, slackSecret); st != 200 {
		t.Fatalf("a submission: %d", st)
	}
	if st := slackPost(t, k, "/slack/interactions", submit, replayAt, slackSecret); st != 401 {
		t.Fatalf("the same signed request again: %d", st)
	}
	time.Sleep(500 * time.Millisecond)
	n := 0
	for _, it := range k.must(200, "GET", "/api/v1/incidents?limit=200", "admin-token", nil)["items"].([]any) {
		if it.(map[string]any)["title"] == "Printer on fire" {
			n++
		}
	}
	if n != 1 || len(api.callsTo("views.open")) != 2 {
		t.Fatalf("refused requests changed something: %d incidents, %d modals", n, len(api.callsTo("views.open")))
	}

	// A change awaiting approval posts its approval messages.
	chg := k.must(201, "POST", "/api/v1/changes", "alice-token", map[string]any{"title": "Upgrade the mail cluster",
		"type": "normal", "services": []string{"email"}, "backout_plan": "restore"})["id"].(string)
	k.act("changes", chg, "alice-token", map[string]any{"action": "assess", "risk": "high", "impact": "mail down 5 min",
		"benefit": "security", "feasibility": "tested", "cost": "2h", "security": "patched"})
	k.act("changes", chg, "alice-token", map[string]any{"action": "submit"})
	posted := map[string]string{} // channel -> ts
	wait(t, "approval messages", func() bool {
		for _, c := range api.callsTo("chat.postMessage") {
			if strings.Contains(c.body, chg) && strings.Contains(c.body, "kanri_approve") {
				posted[c.form.Get("channel")] = ""
			}
		}
		return len(posted) >= 3
	})
	for _, want := range []string{"U0CAB1", "U0CAB2", "C0APPROVALS"} {
		if _, ok := posted[want]; !ok {
			t.Fatalf("approval messages went to %v; want %s", posted, want)
		}
	}
	clicks := 0
	click := func(user, channel, respond string) {
		t.Helper()
		clicks++ // each click is a request of its own, as Slack sends it
		p := interaction(map[string]any{"type": "block_actions", "team": map[string]any{"id": "T0E2E"}, "user": map[string]any{"id": user},
			"trigger_id": fmt.Sprintf("t%d", clicks), "response_url": api.srv.URL + "/response/" + respond,
			"container": map[string]any{"type": "message", "channel_id": channel, "message_ts": "1"},
			"channel":   map[string]any{"id": channel},
			"actions": []map[string]any{{"action_id": "kanri_approve", "block_id": "kanri_block", "value": "changes/" + chg, "type": "button",
				"action_ts": fmt.Sprintf("%d.000100", time.Now().Unix())}}})
		if st := slackPost(t, k, "/slack/interactions", p, time.Now(), slackSecret); st != 200 {
			t.Fatalf("%s's click: %d", user, st)
		}
	}
	// The requester's click is refused, and she is told why.
	click("U0ALICE", "C0APPROVALS", "alice")
	wait(t, "the requester's answer", func() bool {
		for _, c := range api.callsTo("response_url") {
			if strings.Contains(c.body, "alice requested "+chg) {
				return true
			}
		}
		return false
	})
	click("U0CAB1", "DCAB1", "cab1")
	click("U0CAB1", "DCAB1", "cab1") // a double click
	click("U0CAB2", "DCAB2", "cab2")
	c := k.eventually("changes", chg, 20*time.Second, "approval in Slack", func(m map[string]any) bool { return m["status"] == "approved" })
	var by []string
	for _, a := range c["approvals"].([]any) {
		by = append(by, a.(map[string]any)["by"].(string))
	}
	// The clicks are worked behind their answers, in either order.
	slices.Sort(by)
	if strings.Join(by, ",") != "cab1,cab2" {
		t.Fatalf("approvals: %v", c["approvals"])
	}
	// Every approval message was updated: no buttons left, the deciders named.
	wait(t, "the messages updated", func() bool {
		final := map[string]string{}
		for _, u := range api.callsTo("chat.update") {
			if strings.Contains(u.body, chg) {
				final[u.form.Get("channel")] = u.body
			}
		}
		if len(final) < 3 {
			return false
		}
		for _, body := range final {
			if strings.Contains(body, "kanri_approve") || !strings.Contains(body, "U0CAB1") || !strings.Contains(body, "U0CAB2") {
				return false
			}
		}
		return true
	})
}
