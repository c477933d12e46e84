package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/workflows"
)

// Action ids of the approval buttons, and the block that holds them.
const (
	actApprove    = "kanri_approve"
	actReject     = "kanri_reject"
	blockApproval = "kanri_approval"
)

// Message keys of approval messages (see MessageRef).
const (
	keyApprovalPrefix  = "approval:"
	keyApprovalUser    = "approval:user:"
	keyApprovalChannel = "approval:channel"
)

// ApprovalBlocks renders the approval message of a change, request or
// release record: title, type, risk, schedule, services, who asked, the
// quorum, a link to the evidence, every decision so far with who and when,
// and, while the case still waits and buttons is true, Approve and Reject
// with a confirmation dialog each. The buttons only name the case; the
// workflow decides at the time of the click whether the clicker may
// decide.
func (c *Connector) ApprovalBlocks(ctx context.Context, rec json.RawMessage, buttons bool) ([]slackapi.Block, error) {
	r, err := parseRecord(rec)
	if err != nil {
		return nil, err
	}
	kind, ok := kindOfID(r.ID)
	if !ok {
		return nil, fmt.Errorf("slack: %s is not a case id", r.ID)
	}
	return c.approvalBlocks(c.mentions(ctx), kind, r, buttons), nil
}

// approvalHeadline says where the approval stands.
func approvalHeadline(r record) string {
	switch {
	case r.Status == awaitingApproval:
		return "Approval requested"
	case r.Status == "rejected" || hasDecision(r.Approvals, "rejected"):
		return "Rejected"
	case r.Approval != nil && r.Approvals.Approved() >= r.Approval.Quorum:
		return "Approved"
	default:
		return "No longer awaiting approval"
	}
}

func hasDecision(as workflows.Approvals, d string) bool {
	for _, a := range as {
		if a.Decision == d {
			return true
		}
	}
	return false
}

func (c *Connector) approvalBlocks(m *mentions, kind cases.Kind, r record, buttons bool) []slackapi.Block {
	headline := approvalHeadline(r)
	blocks := []slackapi.Block{
		slackapi.NewHeaderBlock(plain(clip(headline+": "+r.ID, 150))),
		slackapi.NewSectionBlock(mrkdwn("*"+esc(clip(r.Title, 500))+"*"), nil, nil),
	}

	var fields []*slackapi.TextBlockObject
	add := func(label, value string) {
		if value != "" {
			fields = append(fields, mrkdwn("*"+label+"*\n"+value))
		}
	}
	switch {
	case r.Type != "":
		add("Type", esc(r.Type))
	case r.ItemName != "":
		add("Item", esc(r.ItemName))
	}
	if r.Assessment != nil {
		add("Risk", esc(r.Assessment.Risk))
	}
	if r.Schedule != nil && !r.Schedule.Start.IsZero() {
		add("Schedule", date(r.Schedule.Start)+" – "+date(r.Schedule.End))
	}
	services := r.Services
	if len(services) == 0 && r.Service != "" {
		services = []string{r.Service}
	}
	if len(services) > 0 {
		add("Services", esc(clip(strings.Join(services, ", "), 300)))
	}
	requester := r.CreatedBy
	if r.Caller != "" {
		requester = r.Caller
	}
	add("Requested by", m.of(requester))
	if r.Approval != nil {
		add("Approval", fmt.Sprintf("%d of %d by %s", r.Approvals.Approved(), r.Approval.Quorum, esc(r.Approval.Group)))
	}
	add("Status", esc(r.Status))
	if len(fields) > 0 {
		blocks = append(blocks, slackapi.NewSectionBlock(nil, fields, nil))
	}
	if link := c.cfg.evidenceURL(kind.Name, r.ID); link != "" {
		blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn(fmt.Sprintf("<%s|Evidence and history of %s>", link, esc(r.ID))), nil, nil))
	}
	if len(r.Approvals) > 0 {
		lines := make([]string, len(r.Approvals))
		for i, a := range r.Approvals {
			lines[i] = decisionLine(m, a)
		}
		blocks = append(blocks, slackapi.NewSectionBlock(mrkdwn(clip(strings.Join(lines, "\n"), 3000)), nil, nil))
	}
	if buttons && r.Status == awaitingApproval {
		ref := caseRef(kind, r.ID)
		approve := slackapi.NewButtonBlockElement(actApprove, ref, plain("Approve")).
			WithStyle(slackapi.StylePrimary).
			WithConfirm(slackapi.NewConfirmationBlockObject(plain("Approve "+r.ID+"?"),
				mrkdwn("Your approval of *"+esc(clip(r.Title, 200))+"* is recorded with your name and the time."),
				plain("Approve"), plain("Cancel")))
		reject := slackapi.NewButtonBlockElement(actReject, ref, plain("Reject")).
			WithStyle(slackapi.StyleDanger).
			WithConfirm(slackapi.NewConfirmationBlockObject(plain("Reject "+r.ID+"?"),
				mrkdwn("One rejection rejects *"+esc(clip(r.Title, 200))+"*. It is recorded with your name and the time."),
				plain("Reject"), plain("Cancel")).WithStyle(slackapi.StyleDanger))
		blocks = append(blocks, slackapi.NewActionBlock(blockApproval, approve, reject))
	}
	return blocks
}

func approvalText(r record) string {
	return approvalHeadline(r) + ": " + r.ID + " " + r.Title
}

// approvalTarget is one place an approval message goes.
type approvalTarget struct {
	key     string
	channel string // where to post: a channel id, or a Slack user id for a DM
	user    string // the Kanri user, for a DM
}

// postApprovals sends the approval message of a case to every approver of
// the recipient ("group:<id>", or one user) who has a Slack account, and
// to the approvals channel. A message already sent (by an earlier attempt
// or an earlier request) is updated instead. An approver whose message
// cannot be delivered for good is logged and skipped; a passing failure
// fails the call, and the retry sends only what is missing.
func (c *Connector) postApprovals(ctx context.Context, kind cases.Kind, id, recipient string) error {
	unlock := c.locks.lock(id)
	defer unlock()
	raw, err := c.cases.Get(ctx, kind, id, reader)
	if err != nil {
		return fmt.Errorf("slack: read %s: %w", id, err)
	}
	r, err := parseRecord(raw)
	if err != nil {
		return err
	}
	users := []string{recipient}
	if group, ok := strings.CutPrefix(recipient, "group:"); ok {
		if users, err = c.dir.GroupMembers(ctx, group); err != nil {
			return fmt.Errorf("slack: members of %s: %w", group, err)
		}
	}
	var targets []approvalTarget
	for _, u := range users {
		if u == r.CreatedBy || u == r.Caller {
			// The requester may never decide: no buttons for them. They
			// can still click the channel copy, and the workflow refuses.
			continue
		}
		slackID, ok, err := c.dir.SlackUserOf(ctx, c.cfg.TeamID, u)
		if err != nil {
			return fmt.Errorf("slack: Slack account of %s: %w", u, err)
		}
		if ok {
			targets = append(targets, approvalTarget{key: keyApprovalUser + u, channel: slackID, user: u})
		}
	}
	if c.cfg.Channels.Approvals != "" {
		targets = append(targets, approvalTarget{key: keyApprovalChannel, channel: c.cfg.Channels.Approvals})
	}
	if len(targets) == 0 {
		return undeliverable("no approver of %s has a Slack account and no approvals channel is configured", recipient)
	}
	m := c.mentions(ctx)
	var errs []error
	for _, t := range targets {
		buttons := t.user == "" || !r.Approvals.DecidedBy(t.user)
		opts := []slackapi.MsgOption{
			slackapi.MsgOptionText(approvalText(r), false),
			slackapi.MsgOptionBlocks(c.approvalBlocks(m, kind, r, buttons)...),
		}
		err := c.sendOrUpdate(ctx, MessageRef{CaseID: id, Key: t.key, User: t.user}, t.channel, opts...)
		switch {
		case err == nil:
		case rateLimited(err):
			return err
		case permanent(err):
			c.log.Warn("slack: approval message not deliverable", "case", id, "to", t.key, "err", err)
		default:
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sendOrUpdate posts a message under ref's key, or updates the one posted
// before: the stored ts is what makes a retry harmless.
func (c *Connector) sendOrUpdate(ctx context.Context, ref MessageRef, channel string, opts ...slackapi.MsgOption) error {
	old, ok, err := c.msgs.Message(ctx, ref.CaseID, ref.Key)
	if err != nil {
		return fmt.Errorf("slack: message %s/%s: %w", ref.CaseID, ref.Key, err)
	}
	if ok {
		return c.update(ctx, old.Channel, old.TS, opts...)
	}
	ch, ts, err := c.post(ctx, channel, opts...)
	if err != nil {
		return err
	}
	ref.Channel, ref.TS = ch, ts
	if err := c.msgs.PutMessage(ctx, ref); err != nil {
		return fmt.Errorf("slack: remember message %s/%s: %w", ref.CaseID, ref.Key, err)
	}
	return nil
}

// refreshApprovals brings every approval message of a case up to date
// with its record: decisions so far, and no buttons once the case no
// longer waits or for an approver who has decided. Messages that are gone
// are skipped.
func (c *Connector) refreshApprovals(ctx context.Context, kind cases.Kind, id string) error {
	unlock := c.locks.lock(id)
	defer unlock()
	refs, err := c.msgs.CaseMessages(ctx, id, keyApprovalPrefix)
	if err != nil {
		return fmt.Errorf("slack: messages of %s: %w", id, err)
	}
	if len(refs) == 0 {
		return nil
	}
	// Read after taking the lock: of two refreshes, the later one renders
	// the later record.
	raw, err := c.cases.Get(ctx, kind, id, reader)
	if err != nil {
		return fmt.Errorf("slack: read %s: %w", id, err)
	}
	r, err := parseRecord(raw)
	if err != nil {
		return err
	}
	m := c.mentions(ctx)
	var errs []error
	for _, ref := range refs {
		buttons := ref.User == "" || !r.Approvals.DecidedBy(ref.User)
		err := c.update(ctx, ref.Channel, ref.TS,
			slackapi.MsgOptionText(approvalText(r), false),
			slackapi.MsgOptionBlocks(c.approvalBlocks(m, kind, r, buttons)...))
		switch {
		case err == nil:
		case rateLimited(err):
			return err
		case permanent(err):
			c.log.Warn("slack: approval message gone", "case", id, "key", ref.Key, "err", err)
		default:
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// idempotencyKey names a decision so that the workflow applies it once:
// a double click, or a click on the DM and then on the channel copy, is
// the same decision by the same person on the same case.
func idempotencyKey(team, slackUser, id, action string) string {
	return "slack/" + team + "/" + slackUser + "/" + id + "/" + action
}

// decide applies an Approve or Reject click. The checks are the
// workflow's, made at the time of the click: the approver is in the group,
// is not the requester, and the case still waits.
func (c *Connector) decide(ctx context.Context, cb slackapi.InteractionCallback, act slackapi.BlockAction) {
	kind, id, ok := parseCaseRef(act.Value)
	if !ok {
		c.log.Warn("slack: approval button with a bad value", "value", act.Value)
		return
	}
	actor, ok := c.actorOf(ctx, teamOf(&cb), cb.User.ID, cb.ResponseURL)
	if !ok {
		return
	}
	action, verb := "approve", "approved"
	if act.ActionID == actReject {
		action, verb = "reject", "rejected"
	}
	_, err := c.cases.Act(ctx, kind, id, slackAction(action, actor),
		idempotencyKey(teamOf(&cb), cb.User.ID, id, action))
	switch {
	case err == nil:
		c.tell(ctx, cb.ResponseURL, cb.User.ID, fmt.Sprintf("You %s %s.", verb, id))
	case errors.Is(err, cases.ErrForbidden):
		// Refused before anything was recorded: the messages stand.
		c.tell(ctx, cb.ResponseURL, cb.User.ID, fmt.Sprintf("You cannot %s %s: %s", action, id, esc(reason(err, cases.ErrForbidden))))
		return
	case errors.Is(err, cases.ErrConflict):
		c.tell(ctx, cb.ResponseURL, cb.User.ID, c.lateClickText(ctx, kind, id, actor.ID, err))
	default:
		// Not found, invalid, or Kanri unavailable: nothing changed.
		c.tell(ctx, cb.ResponseURL, cb.User.ID, c.caseErrorText(err, action+" "+id))
		return
	}
	if err := c.refreshApprovals(ctx, kind, id); err != nil {
		c.log.Warn("slack: updating approval messages failed", "case", id, "err", err)
	}
}

// lateClickText answers a click on a case that no longer waits, naming
// who decided, from the record's approvals.
func (c *Connector) lateClickText(ctx context.Context, kind cases.Kind, id, user string, cause error) string {
	raw, err := c.cases.Get(ctx, kind, id, reader)
	var r record
	if err == nil {
		r, err = parseRecord(raw)
	}
	if err != nil {
		return fmt.Sprintf("Kanri did not record your decision: %s", esc(reason(cause, cases.ErrConflict)))
	}
	m := c.mentions(ctx)
	for _, a := range r.Approvals {
		if a.By == user {
			return fmt.Sprintf("You already decided on %s: %s", id, decisionLine(m, a))
		}
	}
	if len(r.Approvals) == 0 {
		return fmt.Sprintf("%s is not awaiting approval (it is %s): %s", id, r.Status, esc(reason(cause, cases.ErrConflict)))
	}
	lines := make([]string, len(r.Approvals))
	for i, a := range r.Approvals {
		lines[i] = decisionLine(m, a)
	}
	return fmt.Sprintf("%s is no longer awaiting approval (it is %s). Decided:\n%s", id, r.Status, strings.Join(lines, "\n"))
}
