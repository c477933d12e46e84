// Package activities holds the side effects that workflows ask for: the
// projection of each transition into the database (case row, history,
// notification outbox). Every activity is idempotent, because Temporal
// retries it.
package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/kanri-itsm/kanri/store"
)

// CaseRow is the searchable projection of a case plus its full record.
type CaseRow struct {
	ID        string          `json:"id"`
	Kind      string          `json:"kind"`
	Num       int64           `json:"num"`
	Title     string          `json:"title"`
	Status    string          `json:"status"`
	Priority  string          `json:"priority,omitempty"`
	Service   string          `json:"service,omitempty"`
	Assignee  string          `json:"assignee,omitempty"`
	Group     string          `json:"group,omitempty"`
	Major     bool            `json:"major,omitempty"`
	Breached  bool            `json:"breached,omitempty"`
	CreatedBy string          `json:"created_by"`
	Caller    string          `json:"caller,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	Seq       int64           `json:"seq"`
	Record    json.RawMessage `json:"record"`
}

// Entry is one history entry.
type Entry struct {
	Seq    int64          `json:"seq"`
	At     time.Time      `json:"at"`
	Actor  string         `json:"actor"`
	Action string         `json:"action"`
	From   string         `json:"from"`
	To     string         `json:"to"`
	Detail map[string]any `json:"detail,omitempty"`
}

// Note is one notification for the outbox; delivery (email, chat) reads the
// outbox on its own schedule.
type Note struct {
	Recipient string `json:"recipient"`
	Channel   string `json:"channel"`
	Event     string `json:"event"`
	Subject   string `json:"subject"`
	Body      string `json:"body"`
}

// ProjectInput is one transition of a case.
type ProjectInput struct {
	Case  CaseRow `json:"case"`
	Entry Entry   `json:"entry"`
	Notes []Note  `json:"notes,omitempty"`
	// Schedule is a change's entry in the change schedule, KnownError a
	// problem's entry in the known-error database; either is written with
	// the transition when set.
	Schedule   *store.ScheduledChange `json:"schedule,omitempty"`
	KnownError *store.KnownError      `json:"known_error,omitempty"`
}

// Recorder is the part of the store the projection writes to.
type Recorder interface {
	Project(ctx context.Context, p store.Projection) error
}

// IDSource hands out case ids from the store's per-kind sequences.
type IDSource interface {
	NextID(ctx context.Context, kind, prefix string) (string, int64, error)
}

// NewID is a case id a workflow took for a case it starts.
type NewID struct {
	ID  string `json:"id"`
	Num int64  `json:"num"`
}

// Observer is told of every projected transition and every failed one; the
// metrics implement it.
type Observer interface {
	Transition(kind, action string)
	ProjectFailed(kind string)
}

// Activities are registered on the worker as a struct, so each activity's
// name is its method name.
type Activities struct {
	Store    Recorder
	IDs      IDSource
	CMDB     CMDB
	Observer Observer
}

// NextID takes the next id of a kind, for a case a workflow starts (a
// problem's RFC). An id taken by an attempt that fails later is skipped,
// never handed out twice.
func (a *Activities) NextID(ctx context.Context, kind, prefix string) (NewID, error) {
	id, num, err := a.IDs.NextID(ctx, kind, prefix)
	if err != nil {
		return NewID{}, fmt.Errorf("next %s id: %w", kind, err)
	}
	return NewID{ID: id, Num: num}, nil
}

// Project writes one transition: the case row (only if newer than the stored
// one), the history entry and the notifications, in one transaction keyed so
// that a retry adds nothing.
func (a *Activities) Project(ctx context.Context, in ProjectInput) error {
	detail := []byte("{}")
	if len(in.Entry.Detail) > 0 {
		b, err := json.Marshal(in.Entry.Detail)
		if err != nil {
			return fmt.Errorf("project %s: marshal detail: %w", in.Case.ID, err)
		}
		detail = b
	}
	p := store.Projection{
		Case: store.Case{
			ID: in.Case.ID, Kind: in.Case.Kind, Num: in.Case.Num, Title: in.Case.Title,
			Status: in.Case.Status, Priority: in.Case.Priority, Service: in.Case.Service,
			Assignee: in.Case.Assignee, Group: in.Case.Group, Major: in.Case.Major,
			Breached: in.Case.Breached, CreatedBy: in.Case.CreatedBy, Caller: in.Case.Caller,
			CreatedAt: in.Case.CreatedAt, UpdatedAt: in.Case.UpdatedAt, Seq: in.Case.Seq,
			Record: in.Case.Record,
		},
		Entry: &store.HistoryEntry{
			CaseID: in.Case.ID, Seq: in.Entry.Seq, At: in.Entry.At, Actor: in.Entry.Actor,
			Action: in.Entry.Action, From: in.Entry.From, To: in.Entry.To, Detail: detail,
		},
		Schedule:   in.Schedule,
		KnownError: in.KnownError,
	}
	for _, n := range in.Notes {
		p.Notifications = append(p.Notifications, store.Notification{
			CaseID: in.Case.ID, Seq: in.Entry.Seq, Recipient: n.Recipient, Channel: n.Channel,
			Event: n.Event, Subject: n.Subject, Body: n.Body, CreatedAt: in.Entry.At,
		})
	}
	if err := a.Store.Project(ctx, p); err != nil {
		if a.Observer != nil {
			a.Observer.ProjectFailed(in.Case.Kind)
		}
		return fmt.Errorf("project %s #%d: %w", in.Case.ID, in.Entry.Seq, err)
	}
	if a.Observer != nil {
		a.Observer.Transition(in.Case.Kind, in.Entry.Action)
	}
	return nil
}
