package email

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/store"
	"github.com/kanri-itsm/kanri/workflows"
)

// Cases is the part of the case commands the connector drives: the same
// commands the API uses.
type Cases interface {
	ReserveID(ctx context.Context, kind cases.Kind) (string, error)
	OpenIncidentAs(ctx context.Context, id string, actor workflows.Actor, in cases.OpenIncident, source string) (json.RawMessage, error)
	OpenComplaintAs(ctx context.Context, id string, actor workflows.Actor, in cases.OpenComplaint, source string) (json.RawMessage, error)
	Act(ctx context.Context, kind cases.Kind, id string, a workflows.Action, requestID string) (json.RawMessage, error)
}

// Records is the part of the store the connector reads and writes: what
// became of each mail, the cases mail threads onto, the senders, and the
// attachments kept outside the workflow payload.
type Records interface {
	ReserveMail(ctx context.Context, m store.MailRecord) (store.MailRecord, bool, error)
	ReserveCase(ctx context.Context, key, caseID string) (string, error)
	SettleMail(ctx context.Context, key, caseID, disposition, reason string) error
	MailByMessageID(ctx context.Context, msgIDHash string) (store.MailRecord, error)
	GetCase(ctx context.Context, id string) (store.Case, error)
	UserByEmail(ctx context.Context, email string) (store.User, []string, error)
	SaveAttachment(ctx context.Context, a store.Attachment) error
}

// Route says what a mailbox's new mail becomes.
type Route struct {
	Kind    string `yaml:"kind" json:"kind"` // "incidents"
	Service string `yaml:"service" json:"service"`
	Impact  string `yaml:"impact" json:"impact"`
	Urgency string `yaml:"urgency" json:"urgency"`
}

// planReply is the reason of a pending record whose case is the target of
// a reply, not a case the mail opens.
const planReply = "reply planned"

// Dispositions recorded for each mail.
const (
	DispOpened  = "opened"  // opened a new case
	DispReply   = "reply"   // a comment on its case by the caller or staff
	DispCommand = "command" // confirm or reopen by the caller
	DispNote    = "note"    // an internal note: automatic mail, or a third party
	DispIgnored = "ignored" // no case: automatic mail, an unknown sender, a refused action
	DispFailed  = "failed"  // could not be parsed or was too large
)

// Connector turns received mail into case commands. It implements Handler:
// a nil answer means the mail's effect is durable (its case change is in
// the database and its record says what became of it), so the poller may
// move it.
type Connector struct {
	Cases   Cases
	Records Records
	// Routes by mailbox name.
	Routes     map[string]Route
	Classifier Classifier
	// Domain is the domain of Kanri's own Message-IDs.
	Domain string
	// AuthServID, when set, is the authserv-id of the receiving mail
	// server whose Authentication-Results header Kanri trusts: mail that
	// it did not mark dmarc=pass is not taken as its sender's word (no
	// commands, no customer updates, no new cases), whatever its From says.
	AuthServID string
	Logger     *slog.Logger
}

// verified reports whether the mail's sender is vouched for: always when
// no AuthServID is configured, else by a dmarc=pass from that server.
func (c *Connector) verified(msg *Message) bool {
	if c.AuthServID == "" {
		return true
	}
	for _, v := range msg.Header.Values("Authentication-Results") {
		id, rest, _ := strings.Cut(strings.TrimSpace(v), ";")
		if !strings.EqualFold(strings.TrimSpace(id), c.AuthServID) {
			continue
		}
		for _, part := range strings.Split(rest, ";") {
			f := strings.Fields(strings.ToLower(part))
			if len(f) > 0 && f[0] == "dmarc=pass" {
				return true
			}
		}
	}
	return false
}

var _ Handler = (*Connector)(nil)

const maxBody = 64 * 1024

// Handle records one mail and applies it once.
func (c *Connector) Handle(ctx context.Context, mailbox string, uid uint32, raw []byte, msg *Message, parseErr error) error {
	rec := store.MailRecord{Mailbox: mailbox, UID: uid, DedupeKey: c.key(mailbox, uid, raw, msg)}
	if msg != nil {
		rec.From, rec.Subject = msg.From.Address, clip(msg.Subject, 300)
		if id := NormalizeMessageID(msg.MessageID); id != "" {
			rec.MessageID, rec.MsgIDHash = id, MessageIDHash(id)
		}
	}
	got, created, err := c.Records.ReserveMail(ctx, rec)
	if err != nil {
		return err
	}
	if !created && got.Disposition != "pending" {
		// Seen before: fetched twice, delivered to two mailboxes, or re-read
		// after a crash that came after its effect.
		c.logger().Info("mail seen before", "mailbox", mailbox, "uid", uid, "case", got.CaseID, "disposition", got.Disposition)
		return nil
	}
	if parseErr != nil {
		return c.Records.SettleMail(ctx, rec.DedupeKey, "", DispFailed, parseErr.Error())
	}
	if !created && got.CaseID != "" && got.Reason == planReply {
		// Handled before, up to its case change: apply the same action to
		// the same case again (the update id makes it apply once), whatever
		// the case's status is now.
		row, err := c.Records.GetCase(ctx, got.CaseID)
		if err != nil {
			return err
		}
		auto, why := c.Classifier.Classify(msg)
		return c.reply(ctx, rec.DedupeKey, row, msg, auto, why)
	}
	auto, why := c.Classifier.Classify(msg)
	if auto && strings.HasPrefix(why, "own ") {
		// Kanri's own mail come back says nothing new: recorded, not kept.
		return c.Records.SettleMail(ctx, rec.DedupeKey, "", DispIgnored, why)
	}
	if caseID := c.thread(ctx, msg); caseID != "" {
		row, err := c.Records.GetCase(ctx, caseID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			// A tag of a case that does not exist: treat it as new mail.
		case err != nil:
			return err
		case !ended(row):
			return c.reply(ctx, rec.DedupeKey, row, msg, auto, why)
		default:
			if auto {
				return c.Records.SettleMail(ctx, rec.DedupeKey, row.ID, DispIgnored, "automatic mail on a closed case: "+why)
			}
			return c.open(ctx, got, mailbox, msg, row.ID)
		}
	}
	if auto {
		return c.Records.SettleMail(ctx, rec.DedupeKey, "", DispIgnored, why)
	}
	return c.open(ctx, got, mailbox, msg, "")
}

// key is the dedupe key: the hash of the Message-ID, or of the raw mail;
// for an oversize mail without a Message-ID, of its place in the mailbox.
func (c *Connector) key(mailbox string, uid uint32, raw []byte, msg *Message) string {
	if (msg == nil || NormalizeMessageID(msg.MessageID) == "") && len(raw) == 0 {
		// An oversize mail without a Message-ID: its place and its
		// headers, since UIDs are reused after a UIDVALIDITY change.
		var from, subject, date string
		if msg != nil {
			from, subject, date = msg.From.Address, msg.Subject, msg.Date.String()
		}
		return MessageIDHash(fmt.Sprintf("%s/%d/%s/%s/%s", mailbox, uid, from, subject, date))
	}
	return DedupeKey(msg, raw)
}

// thread finds the case a mail answers: by the Message-IDs Kanri sent (they
// carry the case id) or received (recorded per mail), then by the subject
// tag.
func (c *Connector) thread(ctx context.Context, msg *Message) string {
	for _, id := range ThreadCandidates(msg) {
		if caseID, _, ok := ParseOwnMessageID(id, c.Domain); ok {
			return caseID
		}
		if m, err := c.Records.MailByMessageID(ctx, MessageIDHash(id)); err == nil && m.CaseID != "" {
			return m.CaseID
		}
	}
	if caseID, ok := CaseIDFromReferences(msg, c.Domain); ok {
		return caseID
	}
	if caseID, ok := CaseIDFromSubject(msg.Subject); ok {
		return caseID
	}
	return ""
}

func ended(row store.Case) bool {
	return slices.Contains([]string{"closed", "rejected", "cancelled"}, row.Status)
}

// sender resolves the From address to a user; ok is false for a stranger.
func (c *Connector) sender(ctx context.Context, msg *Message) (workflows.Actor, bool, error) {
	u, groups, err := c.Records.UserByEmail(ctx, msg.From.Address)
	if errors.Is(err, store.ErrNotFound) {
		return workflows.Actor{ID: "mail:" + strings.ToLower(msg.From.Address)}, false, nil
	}
	if err != nil {
		return workflows.Actor{}, false, err
	}
	return workflows.Actor{ID: u.ID, Roles: u.Roles, Groups: groups}, true, nil
}

// reply applies a mail to its open case: a command or a comment from the
// caller or staff, and an internal note from anyone else or from a machine.
func (c *Connector) reply(ctx context.Context, key string, row store.Case, msg *Message, auto bool, why string) error {
	kind, ok := cases.KindOf(row.Kind)
	if !ok {
		return c.Records.SettleMail(ctx, key, row.ID, DispIgnored, "mail on a "+row.Kind+" case is not supported")
	}
	actor, known, err := c.sender(ctx, msg)
	if err != nil {
		return err
	}
	unverified := known && !c.verified(msg)
	known = known && !unverified
	caller := known && (actor.ID == row.Caller || actor.ID == row.CreatedBy)
	party := caller || (known && actor.Has(policy.RoleAgent, policy.RoleAdmin, policy.RoleProcessOwner))
	a := workflows.Action{Action: "comment", Actor: actor, Body: body(msg), Source: "email"}
	disp, reason := DispReply, ""
	switch {
	case auto:
		a.Internal, disp, reason = true, DispNote, why
	case unverified:
		a.Internal, disp, reason = true, DispNote, "from "+msg.From.Address+", not verified: no dmarc=pass from "+c.AuthServID
	case !party:
		a.Internal, disp, reason = true, DispNote, "from "+msg.From.Address+", who is neither the caller nor staff"
	default:
		// Only the caller confirms or reopens by mail.
		if cmd := ParseCommand(msg.Stripped); cmd != CommandNone && caller && waitsForCaller(row) {
			a = workflows.Action{Action: cmd.String(), Actor: actor, Source: "email"}
			if cmd == CommandReopen {
				a.Reason = clip(firstNonEmpty(msg.Stripped, "reopened by mail"), maxBody)
			}
			disp = DispCommand
		}
	}
	// The target and its action are on the record before they are
	// applied, so a mail handled again after a crash goes to the same case
	// even if this mail closed it.
	if err := c.Records.SettleMail(ctx, key, row.ID, "pending", planReply); err != nil {
		return err
	}
	if _, err := c.Cases.Act(ctx, kind, row.ID, a, "mail-"+key); err != nil {
		if refused(err) {
			return c.Records.SettleMail(ctx, key, row.ID, DispIgnored, err.Error())
		}
		return err
	}
	if err := c.attachments(ctx, key, row.ID, msg); err != nil {
		return err
	}
	return c.Records.SettleMail(ctx, key, row.ID, disp, reason)
}

// waitsForCaller: the case can take the caller's confirm or reopen.
func waitsForCaller(row store.Case) bool {
	return (row.Kind == "incidents" && row.Status == workflows.StatusResolved) ||
		(row.Kind == "requests" && row.Status == workflows.ReqFulfilled)
}

// open makes a new case of a mail, under an id reserved in the mail's
// record first, so a retry opens the same case. follows names the closed
// case a reply to it continues.
func (c *Connector) open(ctx context.Context, rec store.MailRecord, mailbox string, msg *Message, follows string) error {
	route, ok := c.Routes[mailbox]
	if !ok || (route.Kind != "incidents" && route.Kind != "complaints") {
		return c.Records.SettleMail(ctx, rec.DedupeKey, "", DispIgnored, "mailbox "+mailbox+" opens no cases")
	}
	actor, known, err := c.sender(ctx, msg)
	if err != nil {
		return err
	}
	if !known {
		return c.Records.SettleMail(ctx, rec.DedupeKey, "", DispIgnored, "unknown sender "+msg.From.Address)
	}
	if !c.verified(msg) {
		return c.Records.SettleMail(ctx, rec.DedupeKey, "", DispIgnored, "sender "+msg.From.Address+" not verified: no dmarc=pass from "+c.AuthServID)
	}
	kind, _ := cases.KindOf(route.Kind)
	id := rec.CaseID
	if id == "" {
		if id, err = c.Cases.ReserveID(ctx, kind); err != nil {
			return err
		}
		// The reservation is durable before the case starts, and the
		// first one wins: a crash in between, or the same mail handled by
		// two mailboxes at once, opens the one case.
		if id, err = c.Records.ReserveCase(ctx, rec.DedupeKey, id); err != nil {
			return err
		}
	}
	if route.Kind == "complaints" {
		// A complaints mailbox: the mail is the complaint, from its sender.
		in := cases.OpenComplaint{Title: title(msg.Subject), Description: body(msg), Service: route.Service}
		_, err = c.Cases.OpenComplaintAs(ctx, id, actor, in, "email")
	} else {
		in := cases.OpenIncident{Title: title(msg.Subject), Description: body(msg), Service: route.Service,
			Impact: route.Impact, Urgency: route.Urgency}
		_, err = c.Cases.OpenIncidentAs(ctx, id, actor, in, "email")
	}
	if err != nil {
		if refused(err) {
			return c.Records.SettleMail(ctx, rec.DedupeKey, "", DispIgnored, err.Error())
		}
		return err
	}
	if follows != "" {
		link := workflows.Action{Action: "link", Actor: actor, Kind: "incidents", ID: follows, Relation: "follows", Source: "email"}
		link.Kind = kindOfID(follows)
		if _, err := c.Cases.Act(ctx, kind, id, link, "mail-"+rec.DedupeKey+"/link"); err != nil && !refused(err) {
			return err
		}
	}
	if err := c.attachments(ctx, rec.DedupeKey, id, msg); err != nil {
		return err
	}
	reason := ""
	if follows != "" {
		reason = "a reply to " + follows + ", which is closed"
	}
	return c.Records.SettleMail(ctx, rec.DedupeKey, id, DispOpened, reason)
}

func kindOfID(id string) string {
	for _, k := range cases.Kinds() {
		if strings.HasPrefix(id, k.Prefix+"-") {
			return k.Name
		}
	}
	return ""
}

// attachments keeps a mail's files beside its case.
func (c *Connector) attachments(ctx context.Context, key, caseID string, msg *Message) error {
	for _, a := range msg.Attachments {
		if a.Skipped || len(a.Data) == 0 {
			continue
		}
		err := c.Records.SaveAttachment(ctx, store.Attachment{CaseID: caseID, SourceKey: key, Filename: a.Filename,
			ContentType: a.ContentType, Size: int64(len(a.Data)), Data: a.Data})
		if err != nil {
			return err
		}
	}
	return nil
}

// refused: the case commands said no (403, 409, 422): the mail is recorded
// with the reason, and retrying would not change the answer.
func refused(err error) bool {
	return errors.Is(err, cases.ErrForbidden) || errors.Is(err, cases.ErrConflict) ||
		errors.Is(err, cases.ErrInvalid) || errors.Is(err, cases.ErrNotFound)
}

// body is what a mail adds to its case: the text without the quoted
// history, and the names of its attachments.
func body(msg *Message) string {
	text := strings.TrimSpace(msg.Stripped)
	if text == "" {
		text = strings.TrimSpace(msg.Text)
	}
	if text == "" {
		text = "(no text)"
	}
	var names []string
	for _, a := range msg.Attachments {
		n := firstNonEmpty(a.Filename, a.ContentType)
		if a.Skipped {
			n += " (not kept: " + a.SkipReason + ")"
		}
		names = append(names, n)
	}
	if len(names) > 0 {
		text += "\n\nAttachments: " + strings.Join(names, ", ")
	}
	return clip(text, maxBody)
}

var replyPrefix = regexp.MustCompile(`(?i)^\s*((re|fw|fwd|aw|sv|vs|返信|転送)\s*(\[\d+\])?\s*[:：]\s*)+`)

// title makes a case title of a subject: without reply prefixes and tags.
func title(subject string) string {
	s := replyPrefix.ReplaceAllString(subject, "")
	s = strings.TrimSpace(caseTagRe.ReplaceAllString(s, ""))
	if s == "" {
		s = "(no subject)"
	}
	return clip(s, 300)
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

func (c *Connector) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}
