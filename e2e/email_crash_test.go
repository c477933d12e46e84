package e2e

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	kemail "github.com/kanri-itsm/kanri/integrations/email"
	"github.com/kanri-itsm/kanri/store"
)

// crashingRecords is the real store, except that recording a mail's
// outcome fails while crash is set: as if the intake died after the case
// changed and before the mail was settled and moved.
type crashingRecords struct {
	*store.Store
	crash bool
}

var errCrash = errors.New("killed between the case change and the move")

func (c *crashingRecords) SettleMail(ctx context.Context, key, caseID, disposition, reason string) error {
	if c.crash && disposition != "pending" {
		return errCrash
	}
	return c.Store.SettleMail(ctx, key, caseID, disposition, reason)
}

// TestEmailCrashBetweenCaseAndMove hands the same new mail and the same
// reply to the intake twice, the first time dying after the case change:
// the second time makes no second case and no second history entry.
func TestEmailCrashBetweenCaseAndMove(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts the embedded engine")
	}
	k := start(t, filepath.Join(t.TempDir(), "kanri.db"), "")
	cases := k.app.Cases()
	recs := &crashingRecords{Store: k.app.Store()}
	conn := &kemail.Connector{Cases: cases, Records: recs, Domain: "kanri.test",
		Routes: map[string]kemail.Route{"support": {Kind: "incidents", Service: "email", Impact: "low", Urgency: "low"}}}
	handle := func(raw string) error {
		t.Helper()
		msg, err := kemail.Parse([]byte(raw), kemail.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return conn.Handle(context.Background(), "support", 1, []byte(raw), msg, nil)
	}
	newMail := "From: rita@example.com\r\nSubject: Scanner jammed\r\nMessage-ID: <c1@client.test>\r\n\r\nThe scanner is jammed.\r\n"

	recs.crash = true
	if err := handle(newMail); !errors.Is(err, errCrash) {
		t.Fatalf("first attempt: %v", err)
	}
	rec, err := k.app.Store().Mail(context.Background(), kemail.MessageIDHash("<c1@client.test>"))
	if err != nil || rec.CaseID == "" || rec.Disposition != "pending" {
		t.Fatalf("after the crash the mail is pending on its reserved case: %+v %v", rec, err)
	}
	id := rec.CaseID
	recs.crash = false
	if err := handle(newMail); err != nil {
		t.Fatalf("second attempt: %v", err)
	}
	if err := handle(newMail); err != nil {
		t.Fatalf("third attempt: %v", err)
	}
	all := k.must(200, "GET", "/api/v1/incidents?limit=200", "admin-token", nil)["items"].([]any)
	n := 0
	for _, it := range all {
		if it.(map[string]any)["title"] == "Scanner jammed" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d incidents from one mail handled three times", n)
	}
	if got := countAction(k.history("incidents", id), "open"); got != 1 {
		t.Fatalf("%d open entries", got)
	}

	reply := "From: rita@example.com\r\nSubject: Re: [" + id + "] Scanner jammed\r\nMessage-ID: <c2@client.test>\r\n\r\nStill jammed.\r\n"
	recs.crash = true
	if err := handle(reply); !errors.Is(err, errCrash) {
		t.Fatalf("reply, first attempt: %v", err)
	}
	recs.crash = false
	for range 2 {
		if err := handle(reply); err != nil {
			t.Fatalf("reply again: %v", err)
		}
	}
	if got := countAction(k.history("incidents", id), "comment"); got != 1 {
		t.Fatalf("%d comments from one reply handled three times", got)
	}
	if rec, _ := k.app.Store().Mail(context.Background(), kemail.MessageIDHash("<c2@client.test>")); rec.Disposition != "reply" || rec.CaseID != id {
		t.Fatalf("the reply's record: %+v", rec)
	}

	// A "confirm" that closes the case, handled again after dying before
	// its record was completed, goes to the same (now closed) case: it
	// opens no new one.
	k.act("incidents", id, "alice-token", map[string]any{"action": "resolve", "resolution": "cleared the jam"})
	confirm := "From: rita@example.com\r\nSubject: Re: [" + id + "] resolved\r\nMessage-ID: <c3@client.test>\r\n\r\nconfirm\r\n"
	recs.crash = true
	if err := handle(confirm); !errors.Is(err, errCrash) {
		t.Fatalf("confirm, first attempt: %v", err)
	}
	k.eventually("incidents", id, 10*time.Second, "closed by the confirm", func(m map[string]any) bool { return m["status"] == "closed" })
	recs.crash = false
	if err := handle(confirm); err != nil {
		t.Fatalf("confirm again: %v", err)
	}
	all = k.must(200, "GET", "/api/v1/incidents?limit=200", "admin-token", nil)["items"].([]any)
	if len(all) != 1 {
		t.Fatalf("%d incidents after the confirm was handled twice, want 1", len(all))
	}
	if rec, _ := k.app.Store().Mail(context.Background(), kemail.MessageIDHash("<c3@client.test>")); rec.CaseID != id || rec.Disposition == "opened" {
		t.Fatalf("the confirm's record: %+v", rec)
	}
}
