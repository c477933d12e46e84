package email

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/kanri-itsm/kanri/store"
)

// A notification to a group reaches each member once: after a passing
// failure for one member, the retry sends to that member only.
func TestMailerGroupRetrySendsToTheRestOnly(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "kanri.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	err = db.Project(ctx, store.Projection{
		Case:          store.Case{ID: "CHG-000001", Kind: "changes", Num: 1, Title: "t", Status: "awaiting_approval", CreatedAt: now, UpdatedAt: now, Seq: 1},
		Entry:         &store.HistoryEntry{Seq: 1, At: now, Action: "submit"},
		Notifications: []store.Notification{{Recipient: "group:cab", Channel: "email", Event: "approval_requested", Subject: "[CHG-000001] approval requested", Body: "please"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	sink := startSMTPSink(t, nil)
	m := &Mailer{
		Outbox: db, Sender: NewSender(SMTPConfig{Addr: sink.addr, StartTLS: StartTLSOff}),
		Resolve: func(string) []Recipient {
			return []Recipient{{UserID: "cab1", Address: Address{Address: "cab1@example.com"}}, {UserID: "cab2", Address: Address{Address: "cab2@example.com"}}}
		},
		From: Address{Address: "kanri@kanri.test"}, Lease: time.Millisecond,
	}
	// The first pass meets a "try later": nothing is delivered, and the
	// notification stays for a retry.
	sink.mu.Lock()
	sink.rejectRcpt = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	sink.mu.Unlock()
	m.Resolve = func(string) []Recipient {
		return []Recipient{{UserID: "cab1", Address: Address{Address: "cab1@example.com"}}}
	}
	if sent, err := m.SendOnce(ctx); err != nil || sent != 0 {
		t.Fatalf("first pass: %d %v", sent, err)
	}
	sink.mu.Lock()
	sink.rejectRcpt = nil
	sink.mu.Unlock()
	// The retry: cab1 was reached before (as when a pass dies after one
	// member), so only cab2 is sent to; a third pass sends nothing.
	m.Resolve = func(string) []Recipient {
		return []Recipient{{UserID: "cab1", Address: Address{Address: "cab1@example.com"}}, {UserID: "cab2", Address: Address{Address: "cab2@example.com"}}}
	}
	if ok, _ := db.Delivered(ctx, 1, "cab1@example.com"); ok {
		t.Fatal("a refused address counts as delivered")
	}
	time.Sleep(5 * time.Millisecond)
	if err := db.MarkDelivered(ctx, 1, "cab1@example.com", now); err != nil { // as if cab1 got it before a crash
		t.Fatal(err)
	}
	if sent, err := m.SendOnce(ctx); err != nil || sent != 1 {
		t.Fatalf("retry: %d %v", sent, err)
	}
	var to []string
	for _, d := range sink.received() {
		to = append(to, d.to...)
	}
	if strings.Join(to, ",") != "cab2@example.com" {
		t.Fatalf("the retry sent to %v; want cab2 only", to)
	}
	time.Sleep(5 * time.Millisecond)
	if sent, err := m.SendOnce(ctx); err != nil || sent != 0 {
		t.Fatalf("after delivery: %d %v", sent, err)
	}
}
