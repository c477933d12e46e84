package store

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// A mail is recorded once under its dedupe key, however often it comes;
// its record says what became of it, and replies find their case by it.
func TestMailRecords(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		m := MailRecord{DedupeKey: "k1", MessageID: "m1@client.test", MsgIDHash: "h1", Mailbox: "support", UID: 7,
			From: "rita@example.com", Subject: "Printer on fire"}
		var wg sync.WaitGroup
		created := make(chan bool, 8)
		for range 8 {
			wg.Go(func() {
				_, c, err := s.ReserveMail(ctx, m)
				if err != nil {
					t.Error(err)
				}
				created <- c
			})
		}
		wg.Wait()
		close(created)
		n := 0
		for c := range created {
			if c {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d reservations created the record, want 1", n)
		}
		if _, err := s.MailByMessageID(ctx, "h1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a mail without a case threads: %v", err)
		}
		if err := s.SettleMail(ctx, "k1", "INC-000001", "opened", ""); err != nil {
			t.Fatal(err)
		}
		got, c, err := s.ReserveMail(ctx, m)
		if err != nil || c || got.CaseID != "INC-000001" || got.Disposition != "opened" || got.UID != 7 || got.MessageID != "m1@client.test" {
			t.Fatalf("the record after settling: %+v %v %v", got, c, err)
		}
		byID, err := s.MailByMessageID(ctx, "h1")
		if err != nil || byID.CaseID != "INC-000001" {
			t.Fatalf("thread by message id: %+v %v", byID, err)
		}
		of, err := s.MailOfCase(ctx, "INC-000001")
		if err != nil || len(of) != 1 || of[0].DedupeKey != "k1" {
			t.Fatalf("mail of the case: %+v %v", of, err)
		}
		if _, err := s.Mail(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("an unknown key: %v", err)
		}

		if v, l, err := s.MailCursor(ctx, "support"); err != nil || v != 0 || l != 0 {
			t.Fatalf("a new mailbox's cursor: %d %d %v", v, l, err)
		}
		if err := s.SaveMailCursor(ctx, "support", 4000000000, 12); err != nil {
			t.Fatal(err)
		}
		if v, l, err := s.MailCursor(ctx, "support"); err != nil || v != 4000000000 || l != 12 {
			t.Fatalf("the cursor: %d %d %v", v, l, err)
		}

		for i := 1; i <= 3; i++ {
			if n, err := s.IncrementMailCap(ctx, "Rita@Example.com", "2026-11-26"); err != nil || n != i {
				t.Fatalf("cap count %d: %d %v", i, n, err)
			}
		}
		if n, _ := s.IncrementMailCap(ctx, "rita@example.com", "2026-11-27"); n != 1 {
			t.Fatalf("a new day starts at %d", n)
		}

		a := Attachment{CaseID: "INC-000001", SourceKey: "k1", Filename: "log.txt", ContentType: "text/plain", Size: 3, Data: []byte("abc")}
		for range 2 {
			if err := s.SaveAttachment(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		as, err := s.Attachments(ctx, "INC-000001")
		if err != nil || len(as) != 1 || as[0].Filename != "log.txt" || as[0].Size != 3 {
			t.Fatalf("attachments: %+v %v", as, err)
		}
	})
}

// Outbox claims hold for their lease: a second sender gets nothing until
// it runs out; a notification tried too often, or abandoned, stays unsent.
func TestClaimNotifications(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		c := testCase("INC-000001", 1, 1)
		var ns []Notification
		for i := range 4 {
			ns = append(ns, Notification{Recipient: fmt.Sprintf("u%d", i), Channel: "email", Event: "x"})
		}
		ns = append(ns, Notification{Recipient: "u9", Channel: "slack", Event: "x"})
		if err := s.Project(ctx, Projection{Case: c, Entry: entry(c.ID, 1, "open", "", "logged"), Notifications: ns}); err != nil {
			t.Fatal(err)
		}
		const lease = 300 * time.Millisecond
		first, err := s.ClaimNotifications(ctx, "email", 3, 5, lease)
		if err != nil || len(first) != 3 {
			t.Fatalf("first claim: %d %v", len(first), err)
		}
		second, err := s.ClaimNotifications(ctx, "email", 10, 5, lease)
		if err != nil || len(second) != 1 || slices.ContainsFunc(first, func(n Notification) bool { return n.ID == second[0].ID }) {
			t.Fatalf("second claim: %+v %v", second, err)
		}
		if err := s.MarkNotificationFailed(ctx, second[0].ID, "451 try later"); err != nil {
			t.Fatal(err)
		}
		if err := s.AbandonNotification(ctx, first[0].ID, "no address"); err != nil {
			t.Fatal(err)
		}
		if held, err := s.ClaimNotifications(ctx, "email", 10, 5, lease); err != nil || len(held) != 0 {
			t.Fatalf("claimed while held: %+v %v", held, err)
		}
		// Once the leases run out, what is unsent and not abandoned comes
		// back.
		time.Sleep(lease + 50*time.Millisecond)
		again, err := s.ClaimNotifications(ctx, "email", 10, 5, lease)
		if err != nil || len(again) != 3 || slices.ContainsFunc(again, func(n Notification) bool { return n.ID == first[0].ID }) {
			t.Fatalf("after the lease: %+v %v", again, err)
		}
		for _, n := range again {
			if n.ID == second[0].ID && (n.Attempts != 1 || n.LastError != "451 try later") {
				t.Fatalf("the failed one: %+v", n)
			}
		}
		// One is sent; once the leases run out again, a claim that allows
		// one attempt gets the unsent ones never tried: not the sent one,
		// not the abandoned one, not the one that failed once.
		sent := again[0].ID
		if sent == second[0].ID {
			sent = again[1].ID
		}
		if err := s.MarkNotificationSent(ctx, sent, time.Now()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(lease + 50*time.Millisecond)
		last, err := s.ClaimNotifications(ctx, "email", 10, 1, lease)
		if err != nil || len(last) != 1 || last[0].ID == second[0].ID || last[0].ID == sent || last[0].ID == first[0].ID {
			t.Fatalf("a claim allowing one attempt: %+v %v", last, err)
		}
	})
}

// A single-use token is used once; a setting is made once and shared.
func TestTokensAndSettings(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		if ok, err := s.UseToken(ctx, "t1"); !ok || err != nil {
			t.Fatalf("first use: %v %v", ok, err)
		}
		if ok, err := s.UseToken(ctx, "t1"); ok || err != nil {
			t.Fatalf("second use: %v %v", ok, err)
		}
		made := 0
		create := func() (string, error) { made++; return fmt.Sprintf("v%d", made), nil }
		a, err := s.Setting(ctx, "k", create)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.Setting(ctx, "k", create)
		if err != nil || a != "v1" || b != "v1" || made != 1 {
			t.Fatalf("setting: %q %q made %d %v", a, b, made, err)
		}
	})
}
