package slack

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/workflows"
)

// openedView is the modal of the latest views.open call.
func (e *env) openedView() (triggerID string, view map[string]any) {
	e.t.Helper()
	calls := e.slack.callsTo("views.open")
	if len(calls) == 0 {
		e.t.Fatalf("no modal was opened; calls: %+v", e.slack.allCalls())
	}
	last := calls[len(calls)-1]
	triggerID, _ = last.JSON["trigger_id"].(string)
	view, _ = last.JSON["view"].(map[string]any)
	return triggerID, view
}

func TestIncidentCommandOpensAModalAndItsSubmissionOpensTheIncident(t *testing.T) {
	e := newEnv(t)
	e.command("U0ALICE", "incident Printer on fire")

	trigger, view := e.openedView()
	if trigger != "trig-U0ALICE" {
		t.Errorf("views.open with trigger %q", trigger)
	}
	raw, _ := json.Marshal(view)
	for _, want := range []string{`"callback_id":"kanri_incident"`, `"initial_value":"Printer on fire"`, `"Corporate email"`,
		`"block_id":"impact"`, `"block_id":"urgency"`, `"block_id":"description"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("the modal lacks %s: %s", want, raw)
		}
	}

	meta, _ := view["private_metadata"].(string)
	w := e.interact(submission("U0ALICE", cbIncident, "V100", meta, map[string]map[string]any{
		inTitle: textValue("Printer on fire"), inService: selected("email"), inImpact: selected("high"),
		inUrgency: selected("medium"), inDescription: textValue("Smoke from tray 2"),
	}))
	if w.Code != 200 || w.Body.Len() != 0 {
		t.Fatalf("submission acknowledgement %d %q: the modal should close", w.Code, w.Body)
	}
	opens := e.cases.opens()
	if len(opens) != 1 {
		t.Fatalf("%d incidents opened", len(opens))
	}
	o := opens[0]
	if o.Actor.ID != "alice" || o.Source != "slack" {
		t.Errorf("opened by %q from %q, want alice from slack", o.Actor.ID, o.Source)
	}
	if o.Rec.Title != "Printer on fire" || o.Rec.Service != "email" || o.Rec.Impact != "high" || o.Rec.Urgency != "medium" || o.Rec.Description != "Smoke from tray 2" {
		t.Errorf("opened %+v", o.Rec)
	}
	if got := e.lastResponse("cmd-U0ALICE"); !strings.Contains(got, "Opened") || !strings.Contains(got, "INC-000001") {
		t.Errorf("the person was not told: %s", got)
	}

	// The same submission again (a replay re-signed, or a retry) opens nothing.
	e.clock.advance(time.Second)
	e.interact(submission("U0ALICE", cbIncident, "V100", meta, map[string]map[string]any{
		inTitle: textValue("Printer on fire"), inService: selected("email"), inImpact: selected("high"), inUrgency: selected("medium"),
	}))
	if n := len(e.cases.opens()); n != 1 {
		t.Errorf("%d incidents after a repeated submission, want 1", n)
	}
}

func TestModalErrorsAreShownInTheModal(t *testing.T) {
	e := newEnv(t)
	w := e.interact(submission("U0ALICE", cbIncident, "V101", "", map[string]map[string]any{
		inTitle: textValue("  "), inImpact: selected("catastrophic"), inUrgency: selected("low"),
	}))
	var got struct {
		Action string            `json:"response_action"`
		Errors map[string]string `json:"errors"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("answer %q: %v", w.Body, err)
	}
	if got.Action != "errors" || got.Errors[inTitle] == "" || got.Errors[inService] == "" || got.Errors[inImpact] == "" || got.Errors[inUrgency] != "" {
		t.Errorf("errors %+v", got)
	}
	if len(e.cases.opens()) != 0 {
		t.Error("an invalid submission opened a case")
	}
}

func TestRefusalOfTheCaseCommandReachesThePerson(t *testing.T) {
	e := newEnv(t)
	meta := modalMeta{ResponseURL: e.slack.responseURL("cmd-U0ALICE")}.encode()
	e.interact(submission("U0ALICE", cbIncident, "V102", meta, map[string]map[string]any{
		inTitle: textValue("Printer"), inService: textValue("printers"), inImpact: selected("low"), inUrgency: selected("low"),
	}))
	got := e.lastResponse("cmd-U0ALICE")
	if !strings.Contains(got, `service \"printers\" is not in the service catalogue`) && !strings.Contains(got, `service "printers" is not in the service catalogue`) {
		t.Errorf("the reason was not passed on: %s", got)
	}
}

func TestRequestCommandOffersTheCatalogue(t *testing.T) {
	e := newEnv(t)
	e.command("U0ALICE", "request laptop")
	_, view := e.openedView()
	var v struct {
		Blocks []struct {
			BlockID string `json:"block_id"`
			Element struct {
				InitialOption struct {
					Value string `json:"value"`
				} `json:"initial_option"`
			} `json:"element"`
		} `json:"blocks"`
	}
	raw, _ := json.Marshal(view)
	if err := json.Unmarshal(raw, &v); err != nil || len(v.Blocks) == 0 || v.Blocks[0].BlockID != inItem || v.Blocks[0].Element.InitialOption.Value != "laptop" {
		t.Errorf("the item is not preselected: %s", raw)
	}
	meta, _ := view["private_metadata"].(string)
	e.interact(submission("U0ALICE", cbRequest, "V200", meta, map[string]map[string]any{
		inItem: selected("laptop"), inTitle: textValue(""), inDescription: textValue("14 inch please"),
	}))
	opens := e.cases.opens()
	if len(opens) != 1 || opens[0].Rec.Item != "laptop" || opens[0].Rec.Title != "New laptop" || opens[0].Source != "slack" {
		t.Fatalf("opened %+v", opens)
	}
	if !strings.Contains(e.lastResponse("cmd-U0ALICE"), "REQ-000001") {
		t.Error("the person was not told the request's id")
	}
}

func TestMineListsTheCallersOpenCases(t *testing.T) {
	e := newEnv(t)
	e.cases.add(fakeCase{ID: "INC-000001", Kind: "incidents", Title: "Mine, open", Status: "in_progress", Caller: "alice", CreatedBy: "alice"})
	e.cases.add(fakeCase{ID: "INC-000002", Kind: "incidents", Title: "Mine, closed", Status: "closed", Caller: "alice", CreatedBy: "alice"})
	e.cases.add(fakeCase{ID: "INC-000003", Kind: "incidents", Title: "Someone else's", Status: "logged", Caller: "bob", CreatedBy: "bob"})
	e.cases.add(fakeCase{ID: "REQ-000001", Kind: "requests", Title: "My laptop", Status: "awaiting_approval", Caller: "alice", CreatedBy: "alice"})

	e.command("U0ALICE", "mine")
	got := e.lastResponse("cmd-U0ALICE")
	for _, want := range []string{"INC-000001", "REQ-000001"} {
		if !strings.Contains(got, want) {
			t.Errorf("mine lacks %s: %s", want, got)
		}
	}
	for _, not := range []string{"INC-000002", "INC-000003"} {
		if strings.Contains(got, not) {
			t.Errorf("mine shows %s: %s", not, got)
		}
	}
}

// /kanri complaint receives a complaint from the linked user, titled by
// its first line; without words it asks for them and opens nothing.
func TestComplaintCommand(t *testing.T) {
	e := newEnv(t)
	e.command("U0ALICE", "complaint")
	if got := e.lastResponse("cmd-U0ALICE"); !strings.Contains(got, "Say what went wrong") || len(e.cases.opens()) != 0 {
		t.Fatalf("an empty complaint: %q, %d opened", got, len(e.cases.opens()))
	}
	e.command("U0ALICE", "complaint Nobody answered my call\nI waited an hour.")
	opens := e.cases.opens()
	if len(opens) != 1 {
		t.Fatalf("opened %d cases", len(opens))
	}
	o := opens[0]
	if o.Rec.Kind != "complaints" || o.Actor.ID != "alice" || o.Source != "slack" || o.Rec.Title != "Nobody answered my call" ||
		o.Rec.Description != "Nobody answered my call\nI waited an hour." {
		t.Fatalf("complaint: %+v", o)
	}
	if got := e.lastResponse("cmd-U0ALICE"); !strings.Contains(got, "CMP-000001 is received") {
		t.Fatalf("answer: %q", got)
	}
}

func TestStatusOfACaseThePersonCannotSee(t *testing.T) {
	e := newEnv(t)
	e.cases.add(fakeCase{ID: "INC-000003", Kind: "incidents", Title: "Someone else's", Status: "logged", Caller: "bob", CreatedBy: "bob"})
	e.command("U0ALICE", "status INC-000003")
	got := e.lastResponse("cmd-U0ALICE")
	if !strings.Contains(got, "does not exist") || strings.Contains(got, "Someone else's") {
		t.Errorf("answer %s", got)
	}
}

// Unknown users are told how to link and can do nothing else.
func TestUnknownUserIsToldHowToLinkAndCanDoNothingElse(t *testing.T) {
	e := newEnv(t)
	e.cases.add(fakeCase{ID: "CHG-000001", Kind: "changes", Title: "Upgrade", Status: awaitingApproval, CreatedBy: "rita",
		Approval: &workflows.Quorum{Group: "cab", Quorum: 1}})
	for _, text := range []string{"incident Broken", "request laptop", "status CHG-000001", "mine"} {
		e.command("U0STRANGER", text)
		if got := e.lastResponse("cmd-U0STRANGER"); !strings.Contains(got, "/kanri link") {
			t.Errorf("%q: answer %s", text, got)
		}
	}
	e.interact(e.click("U0STRANGER", actApprove, "changes/CHG-000001", "C0CAB", "1.1"))
	if got := e.lastResponse("click-U0STRANGER"); !strings.Contains(got, "/kanri link") {
		t.Errorf("click: answer %s", got)
	}
	meta := modalMeta{ResponseURL: e.slack.responseURL("cmd-U0STRANGER")}.encode()
	e.interact(submission("U0STRANGER", cbIncident, "V300", meta, map[string]map[string]any{
		inTitle: textValue("x"), inService: selected("email"), inImpact: selected("low"), inUrgency: selected("low"),
	}))
	if n := len(e.slack.callsTo("views.open")); n != 0 {
		t.Errorf("%d modals opened for a stranger", n)
	}
	if len(e.cases.opens()) != 0 || len(e.cases.actions()) != 0 {
		t.Errorf("a stranger acted: %+v %+v", e.cases.opens(), e.cases.actions())
	}
}

func TestLinkFlow(t *testing.T) {
	e := newEnv(t)
	newbie := workflows.Actor{ID: "nina", Roles: []string{policy.RoleRequester}}
	e.dir.AddUser(newbie, "")

	// Without a code, the person is told where to get one.
	e.command("U0NINA", "link")
	if got := e.lastResponse("cmd-U0NINA"); !strings.Contains(got, "https://kanri.example.com/api/v1/me/slack-link") || !strings.Contains(got, "/kanri link <code>") {
		t.Errorf("how to link: %s", got)
	}

	// Kanri issues the code to nina, signed in; she types it in Slack.
	code, expires, err := e.c.IssueLinkCode(context.Background(), "nina")
	if err != nil || !regexp.MustCompile(`^[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}$`).MatchString(code) || !expires.Equal(e.clock.now().Add(LinkCodeTTL)) {
		t.Fatalf("code %q %v %v", code, expires, err)
	}
	e.command("U0NINA", "link AAAA-BBBB")
	if got := e.lastResponse("cmd-U0NINA"); !strings.Contains(got, "unknown, used or expired") {
		t.Errorf("a wrong code: %s", got)
	}
	e.command("U0NINA", "link "+strings.ToLower(strings.ReplaceAll(code, "-", "")))
	if got := e.lastResponse("cmd-U0NINA"); !strings.Contains(got, "now linked to the Kanri user *nina*") {
		t.Fatalf("link: %s", got)
	}
	if a, ok, _ := e.dir.UserBySlackID(context.Background(), testTeam, "U0NINA"); !ok || a.ID != "nina" {
		t.Fatalf("directory: %+v %v", a, ok)
	}

	// The code worked once.
	e.command("U0MALLORY", "link "+code)
	if got := e.lastResponse("cmd-U0MALLORY"); !strings.Contains(got, "unknown, used or expired") {
		t.Errorf("second use: %s", got)
	}
	e.command("U0NINA", "mine")
	if got := e.lastResponse("cmd-U0NINA"); !strings.Contains(got, "no open incidents") {
		t.Errorf("after linking: %s", got)
	}
	e.command("U0NINA", "link")
	if got := e.lastResponse("cmd-U0NINA"); !strings.Contains(got, "already linked") || !strings.Contains(got, "nina") {
		t.Errorf("link when linked: %s", got)
	}
}

func TestLinkCodeExpiresAndOnlyTheNewestWorks(t *testing.T) {
	e := newEnv(t)
	e.dir.AddUser(workflows.Actor{ID: "nina"}, "")
	old, _, _ := e.c.IssueLinkCode(context.Background(), "nina")
	code, _, _ := e.c.IssueLinkCode(context.Background(), "nina")
	e.command("U0NINA", "link "+old)
	if got := e.lastResponse("cmd-U0NINA"); !strings.Contains(got, "unknown, used or expired") {
		t.Errorf("a replaced code: %s", got)
	}
	e.clock.advance(LinkCodeTTL)
	e.command("U0NINA", "link "+code)
	if got := e.lastResponse("cmd-U0NINA"); !strings.Contains(got, "unknown, used or expired") {
		t.Errorf("an expired code: %s", got)
	}
	if _, ok, _ := e.dir.UserBySlackID(context.Background(), testTeam, "U0NINA"); ok {
		t.Error("an expired code linked")
	}
}

func TestMessageShortcutTurnsAMessageIntoAnIncidentWithItsLink(t *testing.T) {
	e := newEnv(t)
	e.interact(map[string]any{
		"type": "message_action", "callback_id": cbIncidentFromMsg,
		"team": map[string]any{"id": testTeam}, "user": map[string]any{"id": "U0ALICE"},
		"channel": map[string]any{"id": "C0GENERAL"}, "trigger_id": "trig-shortcut",
		"response_url": e.slack.responseURL("shortcut"), "message_ts": "1700000123.000200",
		"message": map[string]any{"type": "message", "ts": "1700000123.000200", "user": "U0BOB",
			"text": "VPN drops every five minutes\nsince this morning, for everyone in Osaka"},
	})
	if calls := e.slack.callsTo("chat.getPermalink"); len(calls) != 1 || calls[0].Form.Get("message_ts") != "1700000123.000200" {
		t.Fatalf("permalink calls %+v", calls)
	}
	trigger, view := e.openedView()
	raw, _ := json.Marshal(view)
	if trigger != "trig-shortcut" || !strings.Contains(string(raw), `"initial_value":"VPN drops every five minutes"`) {
		t.Errorf("modal %s", raw)
	}
	meta, _ := view["private_metadata"].(string)
	e.interact(submission("U0ALICE", cbIncident, "V400", meta, map[string]map[string]any{
		inTitle: textValue("VPN drops every five minutes"), inService: selected("vpn"), inImpact: selected("medium"),
		inUrgency: selected("high"), inDescription: textValue("since this morning, for everyone in Osaka"),
	}))
	opens := e.cases.opens()
	if len(opens) != 1 {
		t.Fatalf("%d incidents", len(opens))
	}
	if d := opens[0].Rec.Description; !strings.Contains(d, "https://acme.slack.com/archives/C0GENERAL/p1700000123000200") || !strings.Contains(d, "Osaka") {
		t.Errorf("description %q lacks the message link", d)
	}
	if !strings.Contains(e.lastResponse("shortcut"), "INC-000001") {
		t.Error("the person was not told")
	}
}

func TestHelpIsAnsweredAtOnce(t *testing.T) {
	e := newEnv(t)
	for _, text := range []string{"", "help", "frobnicate"} {
		w := e.command("U0ALICE", text)
		var got map[string]string
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got["response_type"] != "ephemeral" || !strings.Contains(got["text"], "/kanri incident") {
			t.Errorf("%q: %s", text, w.Body)
		}
	}
	if n := len(e.slack.allCalls()); n != 0 {
		t.Errorf("help called Slack %d times", n)
	}
	w := e.serve(e.request(PathCommands, strings.Replace(commandBody("U0ALICE", "mine", ""), url.QueryEscape("/kanri"), url.QueryEscape("/other"), 1)))
	if !strings.Contains(w.Body.String(), "/other") {
		t.Errorf("another command: %s", w.Body)
	}
}

// The global shortcut has no response URL: the answer comes by DM.
func TestGlobalShortcutAnswersByDM(t *testing.T) {
	e := newEnv(t)
	e.interact(map[string]any{"type": "shortcut", "callback_id": cbIncident, "trigger_id": "trig-global",
		"team": map[string]any{"id": testTeam}, "user": map[string]any{"id": "U0ALICE"}})
	trigger, view := e.openedView()
	if trigger != "trig-global" {
		t.Fatalf("trigger %q", trigger)
	}
	meta, _ := view["private_metadata"].(string)
	e.interact(submission("U0ALICE", cbIncident, "V600", meta, map[string]map[string]any{
		inTitle: textValue("Badge reader"), inService: selected("email"), inImpact: selected("low"), inUrgency: selected("low"),
	}))
	dms := e.slack.callsTo("chat.postMessage")
	if len(dms) != 1 || dms[0].Form.Get("channel") != "U0ALICE" || !strings.Contains(dms[0].everything(), "INC-000001") {
		t.Errorf("DMs %+v", dms)
	}
}

// A response URL that is not Slack's is not called; the answer goes by DM.
func TestForeignResponseURLIsNotCalled(t *testing.T) {
	e := newEnv(t)
	w := e.serve(e.request(PathCommands, commandBody("U0ALICE", "mine", "https://attacker.example.com/collect")))
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	e.settle()
	if n := len(e.slack.callsTo("response_url")); n != 0 {
		t.Errorf("%d posts to response URLs", n)
	}
	if dms := e.slack.callsTo("chat.postMessage"); len(dms) != 1 || dms[0].Form.Get("channel") != "U0ALICE" {
		t.Errorf("DMs %+v", dms)
	}
	if !strings.Contains(e.logs.String(), "is not Slack's") {
		t.Errorf("not logged:\n%s", e.logs)
	}
}
