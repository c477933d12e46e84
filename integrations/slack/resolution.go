package slack

import (
	"context"
	"errors"
	"fmt"

	slackapi "github.com/slack-go/slack"

	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/workflows"
)

// Action ids of the buttons on a resolved incident's DM to its caller.
const (
	actConfirm      = "kanri_confirm"
	actReopen       = "kanri_reopen"
	blockResolution = "kanri_resolution"
)

// resolutionButtons asks the caller whether the resolution works.
func resolutionButtons(kind cases.Kind, id string) slackapi.Block {
	ref := caseRef(kind, id)
	return slackapi.NewActionBlock(blockResolution,
		slackapi.NewButtonBlockElement(actConfirm, ref, plain("Confirm, it works")).WithStyle(slackapi.StylePrimary),
		slackapi.NewButtonBlockElement(actReopen, ref, plain("Reopen")).WithStyle(slackapi.StyleDanger))
}

// messageOf is the message a click came from.
func messageOf(cb slackapi.InteractionCallback) (channel, ts string) {
	channel, ts = cb.Container.ChannelID, cb.Container.MessageTs
	if channel == "" {
		channel = cb.Channel.ID
	}
	if ts == "" {
		ts = cb.Message.Timestamp
	}
	return channel, ts
}

// settleResolutionMessage replaces the buttons of a resolution DM with
// what became of it.
func (c *Connector) settleResolutionMessage(ctx context.Context, channel, ts, text string) {
	if channel == "" || ts == "" {
		return
	}
	err := c.update(ctx, channel, ts, slackapi.MsgOptionText(text, false),
		slackapi.MsgOptionBlocks(slackapi.NewSectionBlock(mrkdwn(text), nil, nil)))
	if err != nil {
		c.log.Warn("slack: updating the resolution message failed", "channel", channel, "ts", ts, "err", err)
	}
}

func (c *Connector) confirmResolution(ctx context.Context, cb slackapi.InteractionCallback, act slackapi.BlockAction) {
	kind, id, ok := parseCaseRef(act.Value)
	if !ok {
		return
	}
	actor, ok := c.actorOf(ctx, teamOf(&cb), cb.User.ID, cb.ResponseURL)
	if !ok {
		return
	}
	channel, ts := messageOf(cb)
	// The message's ts is in the key: a case resolved again gets a new
	// message, and its confirmation is a new action.
	_, err := c.cases.Act(ctx, kind, id, slackAction("confirm", actor), idempotencyKey(teamOf(&cb), cb.User.ID, id, "confirm/"+ts))
	if err != nil {
		c.tell(ctx, cb.ResponseURL, cb.User.ID, c.caseErrorText(err, "confirm "+id))
		if errors.Is(err, cases.ErrConflict) {
			c.settleResolutionMessage(ctx, channel, ts, c.currentStatusText(ctx, kind, id))
		}
		return
	}
	c.settleResolutionMessage(ctx, channel, ts,
		fmt.Sprintf(":white_check_mark: You confirmed the resolution of *%s*, %s. Thank you.", esc(id), date(c.now())))
}

// currentStatusText says where a case stands, for a message whose buttons
// came too late.
func (c *Connector) currentStatusText(ctx context.Context, kind cases.Kind, id string) string {
	raw, err := c.cases.Get(ctx, kind, id, reader)
	if err == nil {
		if r, err := parseRecord(raw); err == nil {
			return fmt.Sprintf("*%s* is %s.", esc(id), esc(r.Status))
		}
	}
	return fmt.Sprintf("*%s* no longer takes this answer.", esc(id))
}

// askReopen opens the modal that asks why.
func (c *Connector) askReopen(ctx context.Context, cb slackapi.InteractionCallback, act slackapi.BlockAction) {
	kind, id, ok := parseCaseRef(act.Value)
	if !ok {
		return
	}
	if _, ok := c.actorOf(ctx, teamOf(&cb), cb.User.ID, cb.ResponseURL); !ok {
		return
	}
	channel, ts := messageOf(cb)
	meta := modalMeta{ResponseURL: cb.ResponseURL, Case: caseRef(kind, id), MsgChannel: channel, MsgTS: ts}
	if err := c.openView(ctx, cb.TriggerID, reopenModal(id, meta)); err != nil {
		c.log.Warn("slack: opening the reopen modal failed", "case", id, "err", err)
		c.tell(ctx, cb.ResponseURL, cb.User.ID, "Kanri could not open the form. Please try again.")
	}
}

func (c *Connector) reopen(ctx context.Context, cb slackapi.InteractionCallback, meta modalMeta, why string) {
	kind, id, ok := parseCaseRef(meta.Case)
	if !ok {
		return
	}
	actor, ok := c.actorOf(ctx, teamOf(&cb), cb.User.ID, meta.ResponseURL)
	if !ok {
		return
	}
	a := slackAction("reopen", actor)
	a.Reason = why
	_, err := c.cases.Act(ctx, kind, id, a, idempotencyKey(teamOf(&cb), cb.User.ID, id, "reopen/"+cb.View.ID))
	if err != nil {
		c.tell(ctx, meta.ResponseURL, cb.User.ID, c.caseErrorText(err, "reopen "+id))
		if errors.Is(err, cases.ErrConflict) {
			c.settleResolutionMessage(ctx, meta.MsgChannel, meta.MsgTS, c.currentStatusText(ctx, kind, id))
		}
		return
	}
	c.settleResolutionMessage(ctx, meta.MsgChannel, meta.MsgTS,
		fmt.Sprintf(":leftwards_arrow_with_hook: You reopened *%s*, %s: %s", esc(id), date(c.now()), esc(clip(why, 500))))
}

// slackAction is an action by a Slack user.
func slackAction(name string, actor workflows.Actor) workflows.Action {
	return workflows.Action{Action: name, Actor: actor, Source: Source}
}
