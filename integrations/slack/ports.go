package slack

import (
	"context"
	"encoding/json"
	"time"

	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/store"
	"github.com/kanri-itsm/kanri/workflows"
)

// Cases is the part of the case commands the connector drives;
// *cases.Service implements it. Errors are the cases package's
// (ErrNotFound, ErrForbidden, ErrConflict, ErrInvalid, ErrUnavailable),
// wrapped with a message meant for people.
type Cases interface {
	OpenIncident(ctx context.Context, actor workflows.Actor, in cases.OpenIncident, source string) (json.RawMessage, error)
	OpenRequest(ctx context.Context, actor workflows.Actor, in cases.OpenRequest, source string) (json.RawMessage, error)
	OpenComplaint(ctx context.Context, actor workflows.Actor, in cases.OpenComplaint, source string) (json.RawMessage, error)
	Get(ctx context.Context, kind cases.Kind, id string, actor workflows.Actor) (json.RawMessage, error)
	List(ctx context.Context, kind cases.Kind, actor workflows.Actor, q cases.ListQuery) ([]json.RawMessage, string, error)
	// Act applies an action; a second call with the same requestID applies
	// nothing more and answers as the first did.
	Act(ctx context.Context, kind cases.Kind, id string, a workflows.Action, requestID string) (json.RawMessage, error)
}

// Directory tells who a Slack user is in Kanri, and keeps the link flow's
// codes and links. The database implementation lives in the store.
type Directory interface {
	// UserBySlackID resolves a Slack user of a workspace to the Kanri
	// actor, with the user's roles and active groups as they are now: by
	// the slack_id of the configured users first, then by a link made with
	// the link flow. ok is false for an unknown or inactive user.
	UserBySlackID(ctx context.Context, teamID, slackUserID string) (actor workflows.Actor, ok bool, err error)
	// SlackUserOf is the reverse: the Slack user id of a Kanri user in the
	// workspace (configured slack_id first, then a link). ok is false when
	// the user has none or is inactive.
	SlackUserOf(ctx context.Context, teamID, userID string) (slackUserID string, ok bool, err error)
	// GroupMembers returns the ids of a group's members, in a stable
	// order; an unknown group has none (and no error).
	GroupMembers(ctx context.Context, groupID string) ([]string, error)
	// SaveLinkCode stores a link code issued to a Kanri user, under the
	// code's hash. It replaces every other pending code of the same user,
	// so only the newest code works.
	SaveLinkCode(ctx context.Context, p PendingLink) error
	// TakeLinkCode removes and returns the pending link stored under the
	// hash, in one atomic step: a code works once. ok is false when there
	// is none. Expiry is checked by the caller; an implementation may also
	// purge expired codes at any time.
	TakeLinkCode(ctx context.Context, codeHash string) (p PendingLink, ok bool, err error)
	// Link binds a Slack user of a team to a Kanri user, replacing any
	// earlier link of that Slack user, and any earlier link of that Kanri
	// user in that team.
	Link(ctx context.Context, teamID, slackUserID, userID string) error
}

// PendingLink is a link code issued to a Kanri user and not yet typed in
// Slack.
type PendingLink struct {
	// CodeHash is the hex SHA-256 of the canonical code (upper case, no
	// separators): the code itself is never stored.
	CodeHash  string
	UserID    string
	ExpiresAt time.Time
}

// Messages remembers the Slack messages posted for a case, so that a retry
// updates rather than posts twice, and a decision can update every
// approver's message. The database implementation lives in the store.
type Messages interface {
	// PutMessage inserts or replaces the message under (CaseID, Key).
	PutMessage(ctx context.Context, m MessageRef) error
	// Message returns the message under (caseID, key); ok is false when
	// there is none.
	Message(ctx context.Context, caseID, key string) (m MessageRef, ok bool, err error)
	// CaseMessages returns the messages of a case whose key starts with
	// prefix ("" for all), ordered by key.
	CaseMessages(ctx context.Context, caseID, prefix string) ([]MessageRef, error)
}

// MessageRef is one posted message. Keys used:
//
//	approval:user:<kanri user>   an approver's DM with the buttons
//	approval:channel             the copy in the approvals channel
//	major:thread                 the root of a major incident's thread
//	note:<notification id>       the message that delivered a notification
type MessageRef struct {
	CaseID string
	Key    string
	// Channel is the conversation id as Slack answered it (a DM is D...),
	// TS the message's timestamp: together they address chat.update.
	Channel string
	TS      string
	// User is the Kanri user the message is addressed to, if any.
	User string
}

// ReplayCache remembers keys for a while: request signatures (a replayed
// request is refused), event ids (a retried event is done once) and
// submitted views. The database implementation lives in the store.
type ReplayCache interface {
	// Seen records key until expires and reports whether it was already
	// recorded with an expiry after now. It must be atomic: of concurrent
	// calls with the same key, exactly one answers false. An expired entry
	// counts as absent and is replaced.
	Seen(ctx context.Context, key string, now, expires time.Time) (bool, error)
}

// Outbox is the notifications table as the Notifier reads it; *store.Store
// implements it.
type Outbox interface {
	// PendingNotifications returns up to limit unsent notifications of a
	// channel, oldest first.
	PendingNotifications(ctx context.Context, channel string, limit int) ([]store.Notification, error)
	// MarkNotificationSent records the delivery.
	MarkNotificationSent(ctx context.Context, id int64, at time.Time) error
	// MarkNotificationFailed records a failed attempt; the notification
	// stays pending.
	MarkNotificationFailed(ctx context.Context, id int64, reason string) error
}

// Dropper is an Outbox that can also set aside a notification that can
// never be delivered through Slack (its recipient has no Slack account, or
// no channel is configured for its group), with the reason. Without it such
// a notification is marked sent, so that it does not block the ones behind
// it, and the reason is logged.
type Dropper interface {
	MarkNotificationDropped(ctx context.Context, id int64, reason string) error
}

// Choice is one option of a select in a modal.
type Choice struct {
	Value string // the id Kanri knows it by
	Label string // what people read; empty shows Value
}

// Catalogue is what the modals offer: the service catalogue and the
// request catalogue. Slack shows at most 100 options of a select; the rest
// are left out.
type Catalogue struct {
	Services []Choice
	Items    []Choice
}
