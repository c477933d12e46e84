package slack

import (
	"context"

	slackapi "github.com/slack-go/slack"
)

// dispatchInteraction routes a click, a modal submission or a shortcut.
// Only submissions answer with something (errors shown in the modal);
// everything else is acknowledged empty and done in a job.
func (c *Connector) dispatchInteraction(ctx context.Context, cb slackapi.InteractionCallback) (Ack, error) {
	if err := c.checkTeam(teamOf(&cb)); err != nil {
		return Ack{}, err
	}
	var (
		name string
		work func(ctx context.Context)
	)
	switch cb.Type {
	case slackapi.InteractionTypeViewSubmission:
		return c.submitView(ctx, cb)
	case slackapi.InteractionTypeBlockActions:
		if len(cb.ActionCallback.BlockActions) == 0 {
			return Ack{}, nil
		}
		act := *cb.ActionCallback.BlockActions[0]
		name = "action " + act.ActionID
		switch act.ActionID {
		case actApprove, actReject:
			work = func(ctx context.Context) { c.decide(ctx, cb, act) }
		case actConfirm:
			work = func(ctx context.Context) { c.confirmResolution(ctx, cb, act) }
		case actReopen:
			work = func(ctx context.Context) { c.askReopen(ctx, cb, act) }
		}
	case slackapi.InteractionTypeMessageAction:
		if cb.CallbackID == cbIncidentFromMsg {
			name, work = "shortcut "+cb.CallbackID, func(ctx context.Context) { c.incidentFromMessage(ctx, cb) }
		}
	case slackapi.InteractionTypeShortcut:
		if cb.CallbackID == cbIncident {
			name, work = "shortcut "+cb.CallbackID, func(ctx context.Context) { c.globalIncident(ctx, cb) }
		}
	}
	if work == nil {
		return Ack{}, nil
	}
	if !c.jobs.start(name, work) {
		// Slack shows the person that the click did not go through.
		return Ack{}, ErrBusy
	}
	return Ack{}, nil
}
