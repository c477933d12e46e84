package email

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"strings"
	"time"

	"github.com/kanri-itsm/kanri/store"
)

// Outbox is the part of the store the mailer sends from.
type Outbox interface {
	ClaimNotifications(ctx context.Context, channel string, limit, maxAttempts int, lease time.Duration) ([]store.Notification, error)
	MarkNotificationSent(ctx context.Context, id int64, at time.Time) error
	MarkNotificationFailed(ctx context.Context, id int64, reason string) error
	AbandonNotification(ctx context.Context, id int64, reason string) error
	MailOfCase(ctx context.Context, caseID string) ([]store.MailRecord, error)
	// Delivered and MarkDelivered keep what reached whom, so a retry of a
	// notification to a group sends only to those it has not reached.
	Delivered(ctx context.Context, id int64, address string) (bool, error)
	MarkDelivered(ctx context.Context, id int64, address string, at time.Time) error
}

// Mailer delivers the outbox's email notifications over SMTP. Each
// notification is claimed for a lease, so two servers never send it at
// once; a failed send is tried again when the lease runs out (the lease is
// the backoff), up to MaxAttempts.
type Mailer struct {
	Outbox Outbox
	Sender interface {
		SendComposed(ctx context.Context, c *Composed) error
	}
	// Resolve turns a recipient ("alice", "group:cab") into people.
	Resolve func(recipient string) []Recipient
	// Links, when set, puts an approver's signed approve and reject links
	// into each approval request.
	Links *LinkMaker
	From  Address
	// Domain of the Message-IDs; empty means the From domain.
	Domain string
	// Cap limits automatic mail per recipient and day; nil: no cap.
	Cap *RecipientCap
	// Interval between outbox polls; Lease how long a claim holds (and so
	// the delay before a retry); MaxAttempts before a notification is left
	// with its last error.
	Interval    time.Duration
	Lease       time.Duration
	MaxAttempts int
	Logger      *slog.Logger
}

// Run sends until ctx ends.
func (m *Mailer) Run(ctx context.Context) error {
	interval := m.Interval
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := m.SendOnce(ctx); err != nil && ctx.Err() == nil {
			m.logger().Warn("email outbox", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// SendOnce sends what the outbox holds now and returns how many
// notifications it delivered.
func (m *Mailer) SendOnce(ctx context.Context) (int, error) {
	lease := m.Lease
	if lease <= 0 {
		lease = time.Minute
	}
	max := m.MaxAttempts
	if max <= 0 {
		max = 10
	}
	// A small batch, so a slow relay does not outlast the claim.
	ns, err := m.Outbox.ClaimNotifications(ctx, "email", 10, max, lease)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, n := range ns {
		err := m.deliver(ctx, n)
		var perm permanent
		switch {
		case err == nil:
			if err := m.Outbox.MarkNotificationSent(ctx, n.ID, time.Now().UTC()); err != nil {
				return sent, err
			}
			sent++
		case errors.As(err, &perm):
			m.logger().Info("email notification abandoned", "case", n.CaseID, "recipient", n.Recipient, "reason", err)
			if err := m.Outbox.AbandonNotification(ctx, n.ID, err.Error()); err != nil {
				return sent, err
			}
		default:
			m.logger().Warn("email notification failed; it will be retried", "case", n.CaseID, "recipient", n.Recipient, "error", err)
			if err := m.Outbox.MarkNotificationFailed(ctx, n.ID, err.Error()); err != nil {
				return sent, err
			}
		}
	}
	return sent, nil
}

// Recipient is a person a notification goes to.
type Recipient struct {
	UserID string
	Address
}

// LinkMaker makes decision links.
type LinkMaker struct {
	Key     []byte
	BaseURL string
	TTL     time.Duration
	Now     func() time.Time
}

func (l *LinkMaker) body(n store.Notification, userID string) string {
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	ttl := l.TTL
	if ttl <= 0 {
		ttl = 72 * time.Hour
	}
	approve, reject := DecisionLinks(l.Key, l.BaseURL, n.CaseID, userID, n.Seq, ttl, now())
	return "\n\nApprove: " + approve + "\nReject:  " + reject +
		"\n\nThe links are yours alone, work once, and expire in " + ttl.String() + "."
}

// permanent is a failure that retrying would not mend.
type permanent struct{ error }

func (m *Mailer) deliver(ctx context.Context, n store.Notification) error {
	to := m.Resolve(n.Recipient)
	if len(to) == 0 {
		return permanent{fmt.Errorf("recipient %q has no email address", n.Recipient)}
	}
	// The case's thread: the first mail Kanri received on it, if any, so
	// the caller's mail client files the notice under their own mail.
	var inReplyTo string
	var refs []string
	if mail, err := m.Outbox.MailOfCase(ctx, n.CaseID); err == nil {
		for _, r := range mail {
			if r.MessageID != "" && checkMsgID(r.MessageID) == nil {
				if inReplyTo == "" {
					inReplyTo = r.MessageID
				}
				refs = append(refs, r.MessageID)
			}
		}
	}
	if len(refs) > 10 {
		refs = refs[len(refs)-10:]
	}
	capped, refused := 0, 0
	for _, rcpt := range to {
		addr := rcpt.Address
		if done, err := m.Outbox.Delivered(ctx, n.ID, addr.Address); err != nil {
			return err
		} else if done {
			continue
		}
		text := n.Body
		if m.Links != nil && n.Event == "approval_requested" && rcpt.UserID != "" {
			text += m.Links.body(n, rcpt.UserID)
		}
		if m.Cap != nil {
			ok, count, err := m.Cap.Allow(ctx, addr.Address)
			if err != nil {
				return err
			}
			if !ok {
				m.logger().Info("daily cap of automatic mail reached", "recipient", addr.Address, "count", count, "case", n.CaseID)
				capped++
				continue
			}
		}
		c, err := Compose(Outgoing{
			From: m.From, To: addr, Subject: n.Subject, CaseID: n.CaseID, Seq: n.Seq, Domain: m.Domain,
			Text: text + footer(n.CaseID), HTML: htmlOf(text + footer(n.CaseID)),
			InReplyTo: inReplyTo, References: refs, Date: n.CreatedAt,
		})
		if err != nil {
			return permanent{fmt.Errorf("compose for %s: %w", addr.Address, err)}
		}
		if err := m.Sender.SendComposed(ctx, c); err != nil {
			if IsPermanent(err) {
				// One address refused for good: the others still get it.
				m.logger().Warn("an address refused a notification", "case", n.CaseID, "address", addr.Address, "error", err)
				if err := m.Outbox.MarkDelivered(ctx, n.ID, addr.Address, time.Now().UTC()); err != nil {
					return err
				}
				refused++
				continue
			}
			return err
		}
		if err := m.Outbox.MarkDelivered(ctx, n.ID, addr.Address, time.Now().UTC()); err != nil {
			return err
		}
	}
	if refused == len(to) {
		return permanent{fmt.Errorf("every address of %s refused the notification", n.Recipient)}
	}
	if capped == len(to) {
		return permanent{fmt.Errorf("daily cap of automatic mail reached for %s", n.Recipient)}
	}
	return nil
}

func footer(caseID string) string {
	return "\n\n-- \nKanri " + caseID + ". Reply to this mail to add to the case; keep [" + caseID + "] in the subject."
}

// htmlOf renders plain text as HTML, escaped: nothing in a case's text can
// inject markup into the mail.
func htmlOf(text string) string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html><html><body>")
	for _, p := range strings.Split(text, "\n\n") {
		b.WriteString("<p>")
		b.WriteString(strings.ReplaceAll(html.EscapeString(p), "\n", "<br>"))
		b.WriteString("</p>")
	}
	b.WriteString("</body></html>")
	return b.String()
}

func (m *Mailer) logger() *slog.Logger {
	if m.Logger != nil {
		return m.Logger
	}
	return slog.Default()
}
