package slack

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kanri-itsm/kanri/store"
)

func flush(t *testing.T, n *Notifier) FlushStats {
	t.Helper()
	stats, err := n.Flush(context.Background())
	if err != nil {
		t.Fatalf("flush: %v", err)
	}
	return stats
}

func TestAssignmentAndEscalationGoToTheGroupChannel(t *testing.T) {
	e := newEnv(t)
	out := &memOutbox{}
	n := e.c.NewNotifier(out)
	out.add(store.Notification{CaseID: "INC-000005", Seq: 2, Recipient: "group:service-desk", Event: "assigned", Body: "assigned to service-desk: Mail is down"})
	out.add(store.Notification{CaseID: "INC-000005", Seq: 3, Recipient: "group:service-desk", Event: "escalation", Body: "escalated to second-line: Mail is down"})
	out.add(store.Notification{CaseID: "INC-000005", Seq: 3, Recipient: "group:third-line", Event: "escalation", Body: "escalated to third-line"})

	stats := flush(t, n)
	if stats.Sent != 2 || stats.Dropped != 1 {
		t.Fatalf("stats %+v", stats)
	}
	posts := e.slack.callsTo("chat.postMessage")
	if len(posts) != 2 {
		t.Fatalf("%d posts", len(posts))
	}
	for i, want := range []string{"assigned to service-desk", "escalated to second-line"} {
		if posts[i].Form.Get("channel") != "C0DESK" || !strings.Contains(posts[i].everything(), want) ||
			!strings.Contains(posts[i].everything(), "<https://kanri.example.com/api/v1/incidents/INC-000005|INC-000005>") {
			t.Errorf("post %d: %+v", i, posts[i].everything())
		}
	}
	for id := int64(1); id <= 3; id++ {
		if out.get(id).SentAt == nil {
			t.Errorf("notification %d is still pending", id)
		}
	}
	if !strings.Contains(e.logs.String(), "no Slack channel is configured for group third-line") {
		t.Errorf("the dropped notification's reason is not logged:\n%s", e.logs)
	}
	if stats := flush(t, n); stats != (FlushStats{}) {
		t.Errorf("a second pass did something: %+v", stats)
	}
}

// A Slack API that answers 429 and then 200: the Notifier pauses for
// Retry-After without sleeping, records the failed attempt, and then
// delivers once.
func TestRateLimitIsHonouredAndTheNotificationDeliveredOnce(t *testing.T) {
	e := newEnv(t)
	out := &memOutbox{}
	n := e.c.NewNotifier(out)
	out.add(store.Notification{CaseID: "INC-000005", Recipient: "group:service-desk", Event: "assigned", Body: "assigned"})
	out.add(store.Notification{CaseID: "INC-000006", Recipient: "group:service-desk", Event: "assigned", Body: "assigned too"})
	e.slack.rateLimit("chat.postMessage", "7")

	stats := flush(t, n)
	if stats.Sent != 0 || stats.Failed != 1 || !stats.PausedUntil.Equal(e.clock.now().Add(7*time.Second)) {
		t.Fatalf("stats %+v", stats)
	}
	if got := out.get(1); got.SentAt != nil || got.Attempts != 1 || !strings.Contains(got.LastError, "rate limit") {
		t.Errorf("the failed attempt is not recorded: %+v", got)
	}
	if s := e.sleepsSoFar(); len(s) != 0 {
		t.Errorf("the Notifier slept %v instead of pausing", s)
	}

	e.clock.advance(6 * time.Second)
	if stats := flush(t, n); stats.Sent != 0 || stats.PausedUntil.IsZero() {
		t.Errorf("delivered during the pause: %+v", stats)
	}
	if n := len(e.slack.callsTo("chat.postMessage")); n != 1 {
		t.Errorf("%d calls during the pause", n)
	}

	e.clock.advance(time.Second)
	if stats := flush(t, n); stats.Sent != 2 {
		t.Fatalf("after the pause: %+v", stats)
	}
	if n := len(e.slack.callsTo("chat.postMessage")); n != 3 {
		t.Errorf("%d posts in all, want the refused one and one for each notification", n)
	}
}

// A failure between posting and marking the notification sent must not
// post it again: the stored ts says it went out.
func TestDeliveryIsNotDuplicatedWhenMarkingFails(t *testing.T) {
	e := newEnv(t)
	out := &memOutbox{failMarkSent: 1}
	n := e.c.NewNotifier(out)
	out.add(store.Notification{CaseID: "INC-000005", Recipient: "alice", Event: "assigned", Body: "assigned to you"})

	if _, err := n.Flush(context.Background()); err == nil {
		t.Fatal("the failed mark was not reported")
	}
	if out.get(1).SentAt != nil {
		t.Fatal("marked despite the failure")
	}
	stats := flush(t, n)
	if stats.Sent != 1 || out.get(1).SentAt == nil {
		t.Fatalf("second pass %+v", stats)
	}
	posts := e.slack.callsTo("chat.postMessage")
	if len(posts) != 1 || posts[0].Form.Get("channel") != "U0ALICE" {
		t.Errorf("posts %+v", posts)
	}
}

func TestPassingFailureIsRetriedAfterABackoff(t *testing.T) {
	e := newEnv(t)
	out := &memOutbox{}
	n := e.c.NewNotifier(out)
	out.add(store.Notification{CaseID: "INC-000005", Recipient: "alice", Event: "assigned", Body: "assigned to you"})
	e.slack.failHTTP("chat.postMessage", http.StatusBadGateway)

	if stats := flush(t, n); stats.Failed != 1 {
		t.Fatalf("stats %+v", stats)
	}
	if got := out.get(1); got.Attempts != 1 || got.LastError == "" {
		t.Errorf("attempt not recorded: %+v", got)
	}
	if stats := flush(t, n); stats.Deferred != 1 || stats.Sent != 0 {
		t.Errorf("retried before its time: %+v", stats)
	}
	e.clock.advance(time.Second)
	if stats := flush(t, n); stats.Sent != 1 {
		t.Errorf("not retried: %+v", stats)
	}
}

// dropOutbox also sets notifications aside.
type dropOutbox struct {
	memOutbox
	mu      sync.Mutex
	dropped map[int64]string
}

func (o *dropOutbox) MarkNotificationDropped(_ context.Context, id int64, reason string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.dropped == nil {
		o.dropped = map[int64]string{}
	}
	o.dropped[id] = reason
	return nil
}

func TestUndeliverableNotificationsAreSetAside(t *testing.T) {
	e := newEnv(t)
	out := &dropOutbox{}
	n := e.c.NewNotifier(out)
	out.add(store.Notification{CaseID: "INC-000005", Recipient: "nobody", Event: "assigned", Body: "x"})
	out.add(store.Notification{CaseID: "INC-000005", Recipient: "alice", Event: "assigned", Body: "y"})
	e.slack.failWith("chat.postMessage", "user_not_found")

	stats := flush(t, n)
	if stats.Dropped != 2 || stats.Sent != 0 {
		t.Fatalf("stats %+v", stats)
	}
	if !strings.Contains(out.dropped[1], "nobody has no Slack account") || !strings.Contains(out.dropped[2], "user_not_found") {
		t.Errorf("reasons %v", out.dropped)
	}
}

func TestMajorIncidentUpdatesGoIntoOneThread(t *testing.T) {
	e := newEnv(t)
	e.cases.add(fakeCase{ID: "INC-000007", Kind: "incidents", Title: "Everything is down", Status: "in_progress", Major: true, Priority: "P1", CreatedBy: "agnes"})
	e.cases.add(fakeCase{ID: "INC-000008", Kind: "incidents", Title: "Also down", Status: "logged", Major: true, Priority: "P1", CreatedBy: "agnes"})
	out := &memOutbox{}
	n := e.c.NewNotifier(out)
	out.add(store.Notification{CaseID: "INC-000007", Recipient: RecipientMajorIncidents, Event: "major_declared", Body: "major incident declared; manager mona"})
	out.add(store.Notification{CaseID: "INC-000007", Recipient: RecipientMajorIncidents, Event: "status", Body: "in_progress: workaround found"})
	out.add(store.Notification{CaseID: "INC-000008", Recipient: RecipientMajorIncidents, Event: "major_declared", Body: "major incident declared"})
	if stats := flush(t, n); stats.Sent != 3 {
		t.Fatalf("stats %+v", stats)
	}
	posts := e.slack.callsTo("chat.postMessage")
	if len(posts) != 5 { // two roots and three replies
		t.Fatalf("%d posts", len(posts))
	}
	root7, _, _ := e.msgs.Message(context.Background(), "INC-000007", keyMajorThread)
	root8, _, _ := e.msgs.Message(context.Background(), "INC-000008", keyMajorThread)
	if root7.TS == "" || root8.TS == "" || root7.TS == root8.TS || root7.Channel != "C0MAJOR" {
		t.Fatalf("roots %+v %+v", root7, root8)
	}
	var in7, in8 int
	for _, p := range posts {
		if p.Form.Get("channel") != "C0MAJOR" {
			t.Errorf("posted to %s", p.Form.Get("channel"))
		}
		switch p.Form.Get("thread_ts") {
		case root7.TS:
			in7++
		case root8.TS:
			in8++
		}
	}
	if in7 != 2 || in8 != 1 {
		t.Errorf("replies in the threads: %d and %d", in7, in8)
	}
	if !strings.Contains(posts[0].everything(), "Major incident INC-000007") || !strings.Contains(posts[0].everything(), "Everything is down") {
		t.Errorf("root %s", posts[0].everything())
	}
	// The second news of INC-000007 brought its summary up to date.
	updates := e.slack.callsTo("chat.update")
	if len(updates) != 1 || updates[0].Form.Get("ts") != root7.TS {
		t.Errorf("summary updates %+v", updates)
	}
}

func TestResolvedIncidentAsksTheCallerToConfirm(t *testing.T) {
	e := newEnv(t)
	e.cases.add(fakeCase{ID: "INC-000009", Kind: "incidents", Title: "VPN", Status: "resolved", Caller: "alice", CreatedBy: "alice", Resolution: "restarted"})
	out := &memOutbox{}
	n := e.c.NewNotifier(out)
	out.add(store.Notification{CaseID: "INC-000009", Recipient: "alice", Event: "resolved", Body: "your incident is resolved: restarted"})
	if stats := flush(t, n); stats.Sent != 1 {
		t.Fatalf("stats %+v", stats)
	}
	dm := e.slack.callsTo("chat.postMessage")[0]
	if dm.Form.Get("channel") != "U0ALICE" || !strings.Contains(dm.everything(), `"action_id":"kanri_confirm"`) || !strings.Contains(dm.everything(), `"action_id":"kanri_reopen"`) {
		t.Fatalf("DM %s", dm.everything())
	}
	ref, _, _ := e.msgs.Message(context.Background(), "INC-000009", "note:1")

	e.interact(e.click("U0ALICE", actConfirm, "incidents/INC-000009", ref.Channel, ref.TS))
	e.interact(e.click("U0ALICE", actConfirm, "incidents/INC-000009", ref.Channel, ref.TS)) // double click
	if r := e.cases.record("INC-000009"); r.Status != "closed" {
		t.Fatalf("status %s", r.Status)
	}
	acts := e.cases.actions()
	if len(acts) != 2 || acts[0].RequestID != acts[1].RequestID || acts[1].Err != nil {
		t.Errorf("the double click must apply once: %+v", acts)
	}
	updates := e.slack.callsTo("chat.update")
	if len(updates) == 0 {
		t.Fatal("the DM was not updated")
	}
	last := updates[len(updates)-1]
	if last.Form.Get("channel") != ref.Channel || last.Form.Get("ts") != ref.TS || strings.Contains(last.everything(), "kanri_confirm") ||
		!strings.Contains(last.everything(), "You confirmed") {
		t.Errorf("update %s", last.everything())
	}
}

func TestReopenAsksWhyAndReopens(t *testing.T) {
	e := newEnv(t)
	e.cases.add(fakeCase{ID: "INC-000010", Kind: "incidents", Title: "VPN", Status: "resolved", Caller: "alice", CreatedBy: "alice"})
	e.interact(e.click("U0ALICE", actReopen, "incidents/INC-000010", "D0ALICE", "1700000000.000001"))
	_, view := e.openedView()
	if view["callback_id"] != cbReopen {
		t.Fatalf("modal %v", view)
	}
	meta, _ := view["private_metadata"].(string)

	w := e.interact(submission("U0ALICE", cbReopen, "V500", meta, map[string]map[string]any{inReason: textValue("")}))
	if !strings.Contains(w.Body.String(), `"response_action":"errors"`) {
		t.Errorf("an empty reason: %s", w.Body)
	}
	e.interact(submission("U0ALICE", cbReopen, "V500", meta, map[string]map[string]any{inReason: textValue("still drops")}))
	if r := e.cases.record("INC-000010"); r.Status != "in_progress" {
		t.Fatalf("status %s", r.Status)
	}
	acts := e.cases.actions()
	if len(acts) != 1 || acts[0].Action.Reason != "still drops" || acts[0].Action.Actor.ID != "alice" {
		t.Errorf("acts %+v", acts)
	}
	updates := e.slack.callsTo("chat.update")
	if len(updates) != 1 || updates[0].Form.Get("ts") != "1700000000.000001" || !strings.Contains(updates[0].everything(), "You reopened") {
		t.Errorf("updates %+v", updates)
	}
}

// A click's answer waits out a short rate limit rather than failing.
func TestInteractiveCallWaitsOutAShortRateLimit(t *testing.T) {
	e := newEnv(t)
	e.cases.add(fakeCase{ID: "INC-000011", Kind: "incidents", Title: "x", Status: "resolved", Caller: "alice", CreatedBy: "alice"})
	e.slack.rateLimit("chat.update", "2")
	e.interact(e.click("U0ALICE", actConfirm, "incidents/INC-000011", "D0ALICE", "1.000001"))
	if s := e.sleepsSoFar(); len(s) != 1 || s[0] != 2*time.Second {
		t.Errorf("sleeps %v", s)
	}
	if n := len(e.slack.callsTo("chat.update")); n != 2 {
		t.Errorf("%d update calls, want the limited one and the retry", n)
	}
}

func TestRunDeliversWhenKicked(t *testing.T) {
	e := newEnv(t)
	out := &memOutbox{}
	n := e.c.NewNotifier(out)
	n.Interval = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()

	out.add(store.Notification{CaseID: "INC-000005", Recipient: "alice", Event: "assigned", Body: "assigned to you"})
	n.Kick()
	deadline := time.Now().Add(5 * time.Second)
	for out.get(1).SentAt == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if out.get(1).SentAt == nil {
		t.Error("not delivered")
	}
}

// A Confirm that comes after the incident closed by itself is refused,
// and the message says where the case stands.
func TestLateConfirmSaysWhereTheCaseStands(t *testing.T) {
	e := newEnv(t)
	e.cases.add(fakeCase{ID: "INC-000012", Kind: "incidents", Title: "x", Status: "closed", Caller: "alice", CreatedBy: "alice"})
	e.interact(e.click("U0ALICE", actConfirm, "incidents/INC-000012", "D0ALICE", "1.000002"))
	if got := e.lastResponse("click-U0ALICE"); !strings.Contains(got, "cannot confirm an incident that is closed") {
		t.Errorf("answer %s", got)
	}
	updates := e.slack.callsTo("chat.update")
	if len(updates) != 1 || !strings.Contains(updates[0].everything(), "*INC-000012* is closed") || strings.Contains(updates[0].everything(), "kanri_confirm") {
		t.Errorf("updates %+v", updates)
	}
}
