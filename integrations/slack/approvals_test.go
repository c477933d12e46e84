package slack

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/store"
	"github.com/kanri-itsm/kanri/workflows"
)

// awaitingChange is a normal change raised by rita that needs two of the
// cab (bob, carol, dave, rita).
func awaitingChange() fakeCase {
	return fakeCase{
		ID: "CHG-000001", Kind: "changes", Title: "Upgrade the mail cluster", Status: awaitingApproval, Type: "normal",
		Services: []string{"email"}, CreatedBy: "rita", Assessment: map[string]string{"risk": "high"},
		Schedule: map[string]string{"start": "2026-03-07T22:00:00Z", "end": "2026-03-08T02:00:00Z"},
		Approval: &workflows.Quorum{Group: "cab", Quorum: 2},
	}
}

// latest is the newest content of every message: posted, then updated.
func (e *env) latest() map[string]string {
	out := map[string]string{}
	for _, c := range e.slack.allCalls() {
		switch c.Method {
		case "chat.update":
			out[c.Form.Get("channel")+"/"+c.Form.Get("ts")] = c.everything()
		}
	}
	return out
}

// approvalMessages posts the approval request and returns where each
// message went, by recipient channel.
func (e *env) requestApproval(out *memOutbox, n *Notifier) map[string]string {
	e.t.Helper()
	out.add(store.Notification{CaseID: "CHG-000001", Recipient: "group:cab", Event: "approval_requested", Body: "approval requested"})
	stats, err := n.Flush(context.Background())
	if err != nil || stats.Sent != 1 {
		e.t.Fatalf("flush: %+v %v\n%s", stats, err, e.logs)
	}
	where := map[string]string{} // channel asked -> channel/ts answered
	for _, c := range e.slack.callsTo("chat.postMessage") {
		ch := c.Form.Get("channel")
		ref, ok, _ := e.msgs.Message(context.Background(), "CHG-000001", keyFor(ch))
		if !ok {
			e.t.Fatalf("no stored message for %s", ch)
		}
		where[ch] = ref.Channel + "/" + ref.TS
	}
	return where
}

func keyFor(channel string) string {
	switch channel {
	case "C0CAB":
		return keyApprovalChannel
	default:
		return keyApprovalUser + strings.ToLower(strings.TrimPrefix(channel, "U0"))
	}
}

// The approval story: messages to the approvers, the requester's click
// refused with a reason, a double click applied once, a quorum reached by
// two approvers, every message updated, and a late click told who decided.
func TestApprovalByTwoApproversInSlack(t *testing.T) {
	e := newEnv(t)
	e.cases.add(awaitingChange())
	out := &memOutbox{}
	n := e.c.NewNotifier(out)

	where := e.requestApproval(out, n)
	if len(where) != 4 {
		t.Fatalf("approval messages went to %v; want bob, carol, dave and the approvals channel (not the requester)", where)
	}
	if _, ok := where["U0RITA"]; ok {
		t.Error("the requester got an approval message")
	}
	for _, c := range e.slack.callsTo("chat.postMessage") {
		got := c.everything()
		for _, want := range []string{"Approval requested: CHG-000001", "Upgrade the mail cluster", "*Risk*\\nhigh", "email",
			"<!date^1772920800^", "<https://kanri.example.com/api/v1/changes/CHG-000001/history|Evidence", "<@U0RITA>",
			"0 of 2 by cab", `"action_id":"kanri_approve"`, `"action_id":"kanri_reject"`, `"confirm":`} {
			if !strings.Contains(got, want) {
				t.Errorf("message to %s lacks %q: %s", c.Form.Get("channel"), want, got)
			}
		}
	}
	bobDM := strings.Split(where["U0BOB"], "/")
	cab := strings.Split(where["C0CAB"], "/")

	// The requester clicks Approve in the approvals channel: refused, with
	// the workflow's reason, and nothing recorded.
	e.interact(e.click("U0RITA", actApprove, "changes/CHG-000001", cab[0], cab[1]))
	if got := e.lastResponse("click-U0RITA"); !strings.Contains(got, "You cannot approve CHG-000001") || !strings.Contains(got, "rita requested CHG-000001 and may not decide on it") {
		t.Errorf("the requester was told %s", got)
	}
	if r := e.cases.record("CHG-000001"); len(r.Approvals) != 0 {
		t.Fatalf("the requester's click was recorded: %+v", r.Approvals)
	}

	// Bob approves, and clicks twice.
	e.clock.advance(time.Minute)
	e.interact(e.click("U0BOB", actApprove, "changes/CHG-000001", bobDM[0], bobDM[1]))
	e.interact(e.click("U0BOB", actApprove, "changes/CHG-000001", bobDM[0], bobDM[1]))
	if r := e.cases.record("CHG-000001"); len(r.Approvals) != 1 || r.Status != awaitingApproval {
		t.Fatalf("after bob's double click: %s %+v", r.Status, r.Approvals)
	}
	acts := e.cases.actions()
	if acts[1].RequestID != acts[2].RequestID || acts[1].Action.Actor.ID != "bob" || acts[1].Action.Source != "slack" {
		t.Errorf("a double click must carry one idempotency key: %+v", acts[1:])
	}
	if got := e.lastResponse("click-U0BOB"); !strings.Contains(got, "You approved CHG-000001") {
		t.Errorf("bob was told %s", got)
	}
	msgs := e.latest()
	if got := msgs[where["U0BOB"]]; strings.Contains(got, "kanri_approve") || !strings.Contains(got, "approved by <@U0BOB>") {
		t.Errorf("bob's message should show his decision without buttons: %s", got)
	}
	for _, other := range []string{"U0CAROL", "U0DAVE", "C0CAB"} {
		if got := msgs[where[other]]; !strings.Contains(got, "kanri_approve") || !strings.Contains(got, "1 of 2 by cab") || !strings.Contains(got, "approved by <@U0BOB>") {
			t.Errorf("%s's message after bob: %s", other, got)
		}
	}

	// Carol approves from the channel: the quorum is reached.
	e.clock.advance(time.Minute)
	e.interact(e.click("U0CAROL", actApprove, "changes/CHG-000001", cab[0], cab[1]))
	if r := e.cases.record("CHG-000001"); r.Status != "approved" || len(r.Approvals) != 2 {
		t.Fatalf("after carol: %s %+v", r.Status, r.Approvals)
	}
	msgs = e.latest()
	for who, at := range where {
		got := msgs[at]
		if strings.Contains(got, "kanri_approve") || !strings.Contains(got, "Approved: CHG-000001") ||
			!strings.Contains(got, "approved by <@U0BOB>") || !strings.Contains(got, "approved by <@U0CAROL>") {
			t.Errorf("%s's message after the quorum: %s", who, got)
		}
	}

	// Dave's click comes too late: he is told who decided.
	e.interact(e.click("U0DAVE", actApprove, "changes/CHG-000001", where["U0DAVE"][:strings.Index(where["U0DAVE"], "/")], "x"))
	got := e.lastResponse("click-U0DAVE")
	if !strings.Contains(got, "no longer awaiting approval") || !strings.Contains(got, "<@U0BOB>") || !strings.Contains(got, "<@U0CAROL>") {
		t.Errorf("dave was told %s", got)
	}
	if r := e.cases.record("CHG-000001"); len(r.Approvals) != 2 {
		t.Errorf("the late click was recorded: %+v", r.Approvals)
	}
	for _, c := range e.slack.callsTo("response_url") {
		if c.JSON["response_type"] != "ephemeral" {
			t.Errorf("an answer to a click was not ephemeral: %v", c.JSON)
		}
	}
}

func TestOneRejectionRejectsAndEveryMessageSaysSo(t *testing.T) {
	e := newEnv(t)
	e.cases.add(awaitingChange())
	out := &memOutbox{}
	n := e.c.NewNotifier(out)
	where := e.requestApproval(out, n)

	dave := strings.Split(where["U0DAVE"], "/")
	e.interact(e.click("U0DAVE", actReject, "changes/CHG-000001", dave[0], dave[1]))
	if r := e.cases.record("CHG-000001"); r.Status != "rejected" {
		t.Fatalf("status %s", r.Status)
	}
	if got := e.lastResponse("click-U0DAVE"); !strings.Contains(got, "You rejected CHG-000001") {
		t.Errorf("dave was told %s", got)
	}
	for who, at := range where {
		if got := e.latest()[at]; strings.Contains(got, "kanri_approve") || !strings.Contains(got, "Rejected: CHG-000001") || !strings.Contains(got, "rejected by <@U0DAVE>") {
			t.Errorf("%s's message: %s", who, got)
		}
	}
}

// A decision made elsewhere (the API, an expiry) reaches the messages
// through the next notification of the case.
func TestDecisionOutsideSlackUpdatesTheMessages(t *testing.T) {
	e := newEnv(t)
	e.cases.add(awaitingChange())
	out := &memOutbox{}
	n := e.c.NewNotifier(out)
	where := e.requestApproval(out, n)

	// Bob and carol approve through the API.
	for _, a := range []workflows.Actor{bob, carol} {
		if _, err := e.cases.Act(context.Background(), mustKind("changes"), "CHG-000001", workflows.Action{Action: "approve", Actor: a}, ""); err != nil {
			t.Fatal(err)
		}
	}
	out.add(store.Notification{CaseID: "CHG-000001", Recipient: "rita", Event: "approved", Body: "your change is approved: Upgrade the mail cluster"})
	if stats, err := n.Flush(context.Background()); err != nil || stats.Sent != 1 {
		t.Fatalf("flush: %+v %v", stats, err)
	}
	for who, at := range where {
		if got := e.latest()[at]; strings.Contains(got, "kanri_approve") || !strings.Contains(got, "Approved: CHG-000001") {
			t.Errorf("%s's message: %s", who, got)
		}
	}
	dms := e.slack.callsTo("chat.postMessage")
	if last := dms[len(dms)-1]; last.Form.Get("channel") != "U0RITA" || !strings.Contains(last.text(), "your change is approved") {
		t.Errorf("the requester was not told: %+v", last.Form)
	}
}

func TestApprovalRequestSentAgainUpdatesInsteadOfPosting(t *testing.T) {
	e := newEnv(t)
	e.cases.add(awaitingChange())
	out := &memOutbox{}
	n := e.c.NewNotifier(out)
	e.requestApproval(out, n)
	posts := len(e.slack.callsTo("chat.postMessage"))

	out.add(store.Notification{CaseID: "CHG-000001", Recipient: "group:cab", Event: "approval_requested"})
	if stats, err := n.Flush(context.Background()); err != nil || stats.Sent != 1 {
		t.Fatalf("flush: %+v %v", stats, err)
	}
	if got := len(e.slack.callsTo("chat.postMessage")); got != posts {
		t.Errorf("%d new posts, want none", got-posts)
	}
	if got := len(e.slack.callsTo("chat.update")); got != 4 {
		t.Errorf("%d updates, want 4", got)
	}
}

func TestApprovalBlocksOfARequest(t *testing.T) {
	e := newEnv(t)
	rec := marshal(&fakeCase{ID: "REQ-000009", Kind: "requests", Title: "Admin rights", Status: awaitingApproval, ItemName: "Admin rights",
		Service: "email", Caller: "alice", CreatedBy: "alice", Approval: &workflows.Quorum{Group: "cab", Quorum: 1}})
	blocks, err := e.c.ApprovalBlocks(context.Background(), rec, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) < 4 {
		t.Fatalf("%d blocks", len(blocks))
	}
	last := blocks[len(blocks)-1]
	if last.ID() != blockApproval {
		t.Errorf("the last block is %q, want the buttons", last.ID())
	}
	blocks, _ = e.c.ApprovalBlocks(context.Background(), rec, false)
	if blocks[len(blocks)-1].ID() == blockApproval {
		t.Error("buttons were asked away")
	}
}

func mustKind(name string) cases.Kind {
	k, ok := cases.KindOf(name)
	if !ok {
		panic(name)
	}
	return k
}
