package slack

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/store"
)

// Channel is the outbox channel the Notifier delivers.
const Channel = "slack"

// Notifier defaults.
const (
	DefaultNotifyInterval = 5 * time.Second
	DefaultNotifyBatch    = 50
	maxRetryBackoff       = 5 * time.Minute
)

// Recipients that are not users or groups.
const (
	RecipientMajorIncidents = "channel:major_incidents"
	RecipientApprovals      = "channel:approvals"
)

// Message keys of notifications (see MessageRef).
const (
	keyNote        = "note:"
	keyMajorThread = "major:thread"
)

// errUndeliverable marks a notification that Slack can never deliver: no
// channel for its group, no Slack account for its user, a channel that is
// gone. It is set aside, not retried.
var errUndeliverable = errors.New("undeliverable")

func undeliverable(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUndeliverable, fmt.Sprintf(format, args...))
}

// permanent reports whether retrying cannot help.
func permanent(err error) bool {
	if errors.Is(err, errUndeliverable) || errors.Is(err, cases.ErrNotFound) {
		return true
	}
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) {
		switch se.Err {
		case "channel_not_found", "not_in_channel", "is_archived", "user_not_found", "user_disabled",
			"cannot_dm_bot", "invalid_blocks", "invalid_blocks_format", "msg_too_long", "no_text",
			"restricted_action", "message_not_found", "cant_update_message", "edit_window_closed":
			return true
		}
	}
	return false
}

func rateLimited(err error) bool {
	var rl *slackapi.RateLimitedError
	return errors.As(err, &rl)
}

// Notifier delivers the outbox's Slack notifications. Each is delivered at
// least once and, through the ts stored under its key, posted at most once:
// a retry after a failure between posting and marking finds the message
// and only marks. Rate limits pause the whole Notifier for Retry-After
// (Slack's limits are per method and workspace); other passing failures
// are recorded and retried with a growing delay. Run one Notifier per
// deployment.
type Notifier struct {
	c   *Connector
	out Outbox
	// Interval is the time between polls of the outbox; Batch the most
	// notifications read at once.
	Interval time.Duration
	Batch    int

	mu          sync.Mutex
	pausedUntil time.Time
	retryAt     map[int64]time.Time
	kick        chan struct{}
}

// NewNotifier returns a Notifier that reads out.
func (c *Connector) NewNotifier(out Outbox) *Notifier {
	return &Notifier{c: c, out: out, Interval: DefaultNotifyInterval, Batch: DefaultNotifyBatch,
		retryAt: map[int64]time.Time{}, kick: make(chan struct{}, 1)}
}

// Kick makes Run poll now rather than at the next interval, for a caller
// that just queued a notification.
func (n *Notifier) Kick() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends.
func (n *Notifier) Run(ctx context.Context) error {
	for {
		stats, err := n.Flush(ctx)
		if err != nil && ctx.Err() == nil {
			n.c.log.Warn("slack: notifier", "err", err)
		}
		wait := n.Interval
		if wait <= 0 {
			wait = DefaultNotifyInterval
		}
		if d := stats.PausedUntil.Sub(n.c.now()); d > wait {
			wait = d
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-n.kick:
			t.Stop()
		case <-t.C:
		}
	}
}

// FlushStats counts what one Flush did.
type FlushStats struct {
	Sent     int // delivered and marked sent
	Failed   int // failed; pending for a retry
	Dropped  int // undeliverable; set aside
	Deferred int // waiting for their retry time
	// PausedUntil is set while Slack's rate limit holds.
	PausedUntil time.Time
}

// Flush makes one pass over the pending notifications.
func (n *Notifier) Flush(ctx context.Context) (FlushStats, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ctx = withoutRateWait(ctx)
	var stats FlushStats
	now := n.c.now()
	if now.Before(n.pausedUntil) {
		stats.PausedUntil = n.pausedUntil
		return stats, nil
	}
	batch := n.Batch
	if batch <= 0 {
		batch = DefaultNotifyBatch
	}
	notes, err := n.out.PendingNotifications(ctx, Channel, batch)
	if err != nil {
		return stats, fmt.Errorf("slack: pending notifications: %w", err)
	}
	var errs []error
	for _, note := range notes {
		if at, ok := n.retryAt[note.ID]; ok && now.Before(at) {
			stats.Deferred++
			continue
		}
		err := n.deliver(ctx, note)
		var rl *slackapi.RateLimitedError
		switch {
		case err == nil:
			delete(n.retryAt, note.ID)
			if err := n.out.MarkNotificationSent(ctx, note.ID, n.c.now()); err != nil {
				// The message's ts is stored: the next pass only marks.
				errs = append(errs, fmt.Errorf("slack: mark notification %d sent: %w", note.ID, err))
				continue
			}
			stats.Sent++
		case errors.As(err, &rl):
			n.pausedUntil = now.Add(max(rl.RetryAfter, time.Second))
			stats.PausedUntil = n.pausedUntil
			stats.Failed++
			if err := n.out.MarkNotificationFailed(ctx, note.ID, err.Error()); err != nil {
				errs = append(errs, err)
			}
			return stats, errors.Join(errs...)
		case permanent(err):
			delete(n.retryAt, note.ID)
			stats.Dropped++
			if err := n.drop(ctx, note, err); err != nil {
				errs = append(errs, err)
			}
		default:
			stats.Failed++
			n.retryAt[note.ID] = now.Add(retryBackoff(note.Attempts + 1))
			n.c.log.Warn("slack: notification failed; will retry", "id", note.ID, "case", note.CaseID, "attempts", note.Attempts+1, "err", err)
			if err := n.out.MarkNotificationFailed(ctx, note.ID, err.Error()); err != nil {
				errs = append(errs, fmt.Errorf("slack: mark notification %d failed: %w", note.ID, err))
			}
		}
	}
	return stats, errors.Join(errs...)
}

// retryBackoff doubles from a second up to five minutes.
func retryBackoff(attempts int) time.Duration {
	d := time.Second
	for i := 1; i < attempts && d < maxRetryBackoff; i++ {
		d *= 2
	}
	return min(d, maxRetryBackoff)
}

func (n *Notifier) drop(ctx context.Context, note store.Notification, cause error) error {
	n.c.log.Warn("slack: notification not deliverable through Slack; set aside", "id", note.ID, "case", note.CaseID,
		"recipient", note.Recipient, "event", note.Event, "reason", cause)
	if d, ok := n.out.(Dropper); ok {
		return d.MarkNotificationDropped(ctx, note.ID, cause.Error())
	}
	return n.out.MarkNotificationSent(ctx, note.ID, n.c.now())
}

// deliver sends one notification where its recipient says (see the
// package documentation).
func (n *Notifier) deliver(ctx context.Context, note store.Notification) error {
	c := n.c
	kind, ok := kindOfID(note.CaseID)
	if !ok {
		return undeliverable("%q is not a case id", note.CaseID)
	}
	if note.Event == "approval_requested" {
		return c.postApprovals(ctx, kind, note.CaseID, note.Recipient)
	}
	// Any news of a case that has approval messages (a decision, expiry,
	// rejection, withdrawal) brings them up to date first.
	if err := c.refreshApprovals(ctx, kind, note.CaseID); err != nil {
		if rateLimited(err) {
			return err
		}
		c.log.Warn("slack: updating approval messages failed", "case", note.CaseID, "err", err)
	}
	switch {
	case note.Recipient == RecipientMajorIncidents:
		return n.postMajor(ctx, kind, note)
	case note.Recipient == RecipientApprovals:
		if c.cfg.Channels.Approvals == "" {
			return undeliverable("no approvals channel is configured")
		}
		return n.postNote(ctx, kind, note, c.cfg.Channels.Approvals, "", "")
	case strings.HasPrefix(note.Recipient, "group:"):
		group := strings.TrimPrefix(note.Recipient, "group:")
		ch := c.cfg.Groups[group]
		if ch == "" {
			return undeliverable("no Slack channel is configured for group %s", group)
		}
		return n.postNote(ctx, kind, note, ch, "", "")
	default:
		slackID, ok, err := c.dir.SlackUserOf(ctx, c.cfg.TeamID, note.Recipient)
		if err != nil {
			return fmt.Errorf("slack: Slack account of %s: %w", note.Recipient, err)
		}
		if !ok {
			return undeliverable("%s has no Slack account", note.Recipient)
		}
		return n.postNote(ctx, kind, note, slackID, note.Recipient, "")
	}
}

// noteBlocks renders a notification. A resolved incident's DM to its
// caller carries Confirm and Reopen.
func (n *Notifier) noteBlocks(kind cases.Kind, note store.Notification, user string) []slackapi.Block {
	id := esc(note.CaseID)
	if link := n.c.caseLink(kind, note.CaseID); link != "" {
		id = "<" + link + "|" + id + ">"
	}
	blocks := []slackapi.Block{
		slackapi.NewSectionBlock(mrkdwn(clip("*"+id+"* "+esc(noteText(note)), 3000)), nil, nil),
		slackapi.NewContextBlock("", mrkdwn(esc(strings.ReplaceAll(note.Event, "_", " ")))),
	}
	if user != "" && note.Event == "resolved" && kind.Name == "incidents" {
		blocks = append(blocks,
			slackapi.NewSectionBlock(mrkdwn("Does it work for you again?"), nil, nil),
			resolutionButtons(kind, note.CaseID))
	}
	return blocks
}

func noteText(note store.Notification) string {
	if note.Body != "" {
		return note.Body
	}
	return note.Subject
}

// postNote posts a notification once: under the key note:<id>, a stored
// message means an earlier attempt got through.
func (n *Notifier) postNote(ctx context.Context, kind cases.Kind, note store.Notification, channel, user, threadTS string) error {
	key := keyNote + strconv.FormatInt(note.ID, 10)
	if _, ok, err := n.c.msgs.Message(ctx, note.CaseID, key); err != nil {
		return fmt.Errorf("slack: message %s/%s: %w", note.CaseID, key, err)
	} else if ok {
		return nil
	}
	opts := []slackapi.MsgOption{
		slackapi.MsgOptionText(note.CaseID+" "+noteText(note), false),
		slackapi.MsgOptionBlocks(n.noteBlocks(kind, note, user)...),
	}
	if threadTS != "" {
		opts = append(opts, slackapi.MsgOptionTS(threadTS))
	}
	ch, ts, err := n.c.post(ctx, channel, opts...)
	if err != nil {
		return err
	}
	ref := MessageRef{CaseID: note.CaseID, Key: key, Channel: ch, TS: ts, User: user}
	if err := n.c.msgs.PutMessage(ctx, ref); err != nil {
		return fmt.Errorf("slack: remember message %s/%s: %w", note.CaseID, key, err)
	}
	return nil
}

// postMajor posts a notification into the case's thread in the
// major-incident channel, starting the thread with a summary of the case
// the first time, and bringing the summary up to date each time.
func (n *Notifier) postMajor(ctx context.Context, kind cases.Kind, note store.Notification) error {
	c := n.c
	ch := c.cfg.Channels.MajorIncidents
	if ch == "" {
		return undeliverable("no major-incident channel is configured")
	}
	raw, err := c.cases.Get(ctx, kind, note.CaseID, reader)
	if err != nil {
		return fmt.Errorf("slack: read %s: %w", note.CaseID, err)
	}
	r, err := parseRecord(raw)
	if err != nil {
		return err
	}
	summary := []slackapi.MsgOption{
		slackapi.MsgOptionText("Major incident "+r.ID+": "+r.Title+" ("+r.Status+")", false),
		slackapi.MsgOptionBlocks(c.majorBlocks(ctx, kind, r)...),
	}
	root, ok, err := c.msgs.Message(ctx, note.CaseID, keyMajorThread)
	if err != nil {
		return fmt.Errorf("slack: message %s/%s: %w", note.CaseID, keyMajorThread, err)
	}
	if !ok {
		rch, ts, err := c.post(ctx, ch, summary...)
		if err != nil {
			return err
		}
		root = MessageRef{CaseID: note.CaseID, Key: keyMajorThread, Channel: rch, TS: ts}
		if err := c.msgs.PutMessage(ctx, root); err != nil {
			return fmt.Errorf("slack: remember the thread of %s: %w", note.CaseID, err)
		}
	} else if err := c.update(ctx, root.Channel, root.TS, summary...); err != nil {
		if rateLimited(err) {
			return err
		}
		c.log.Warn("slack: updating a major incident's summary failed", "case", note.CaseID, "err", err)
	}
	return n.postNote(ctx, kind, note, root.Channel, "", root.TS)
}

// majorBlocks is the summary at the top of a major incident's thread.
func (c *Connector) majorBlocks(ctx context.Context, kind cases.Kind, r record) []slackapi.Block {
	blocks := []slackapi.Block{slackapi.NewHeaderBlock(plain(clip(":rotating_light: Major incident "+r.ID, 150)))}
	return append(blocks, c.statusBlocks(ctx, kind, r)...)
}
