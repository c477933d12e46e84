package e2e

import (
	"context"
	"path/filepath"
	"testing"

	kemail "github.com/kanri-itsm/kanri/integrations/email"
)

// With a trusted receiving server configured, a From header alone is not
// enough: only mail that server marked dmarc=pass opens a case or speaks
// for its sender; the rest is recorded, or kept as an internal note.
func TestEmailDMARC(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts the embedded engine")
	}
	k := start(t, filepath.Join(t.TempDir(), "kanri.db"), "")
	conn := &kemail.Connector{Cases: k.app.Cases(), Records: k.app.Store(), Domain: "kanri.test", AuthServID: "mx.kanri.test",
		Routes: map[string]kemail.Route{"support": {Kind: "incidents", Service: "email", Impact: "low", Urgency: "low"}}}
	uid := uint32(0)
	handle := func(raw string) kemail.Message {
		t.Helper()
		uid++
		msg, err := kemail.Parse([]byte(raw), kemail.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.Handle(context.Background(), "support", uid, []byte(raw), msg, nil); err != nil {
			t.Fatal(err)
		}
		return *msg
	}
	record := func(id string) (disp, reason, caseID string) {
		rec, err := k.app.Store().Mail(context.Background(), kemail.MessageIDHash(id))
		if err != nil {
			t.Fatal(err)
		}
		return rec.Disposition, rec.Reason, rec.CaseID
	}

	handle("From: rita@example.com\r\nSubject: Forged\r\nMessage-ID: <f1@x.test>\r\n" +
		"Authentication-Results: mx.evil.test; dmarc=pass\r\n\r\nhello\r\n")
	if d, r, _ := record("<f1@x.test>"); d != "ignored" || r == "" {
		t.Fatalf("mail without our server's dmarc=pass: %s %q", d, r)
	}
	handle("From: rita@example.com\r\nSubject: Genuine\r\nMessage-ID: <g1@x.test>\r\n" +
		"Authentication-Results: mx.kanri.test; spf=pass smtp.mailfrom=example.com; dmarc=pass (p=reject) header.from=example.com\r\n\r\nhello\r\n")
	d, _, id := record("<g1@x.test>")
	if d != "opened" || id == "" {
		t.Fatalf("verified mail: %s %s", d, id)
	}
	handle("From: rita@example.com\r\nSubject: Re: [" + id + "] Genuine\r\nMessage-ID: <f2@x.test>\r\n" +
		"Authentication-Results: mx.kanri.test; dmarc=fail header.from=example.com\r\n\r\nconfirm\r\n")
	if d, r, c := record("<f2@x.test>"); d != "note" || c != id || r == "" {
		t.Fatalf("an unverified reply in the caller's name: %s %q %s", d, r, c)
	}
	if e := lastAction(k.history("incidents", id), "comment"); e == nil || e["detail"].(map[string]any)["internal"] != true {
		t.Fatalf("the unverified reply is not an internal note: %v", e)
	}
}
