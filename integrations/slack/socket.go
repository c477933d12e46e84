package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// RunSocketMode connects to Slack over Socket Mode with the app-level
// token and feeds every envelope to the same dispatcher as the HTTP
// endpoints, acknowledging each at once with the dispatcher's answer. The
// WebSocket needs no public URL; Slack signs nothing on it, the token
// authenticates the connection. It reconnects by itself and returns when
// ctx ends (nil) or the connection cannot be kept (invalid token, ...).
// Run one per replica at most: Slack spreads envelopes over connections.
func (c *Connector) RunSocketMode(ctx context.Context) error {
	if c.cfg.AppToken == "" {
		return errors.New("slack: Socket Mode needs app_token")
	}
	api := slackapi.New(c.cfg.BotToken,
		slackapi.OptionAppLevelToken(c.cfg.AppToken),
		slackapi.OptionAPIURL(c.cfg.apiURL()),
		slackapi.OptionHTTPClient(c.http))
	sm := socketmode.New(api, socketmode.OptionLog(slog.NewLogLogger(c.log.Handler(), slog.LevelDebug)))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- sm.RunContext(ctx) }()
	for {
		select {
		case <-ctx.Done():
			<-done
			return nil
		case err := <-done:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("slack: socket mode: %w", err)
		case evt := <-sm.Events:
			c.socketEvent(ctx, sm, evt)
		}
	}
}

// socketAcker is the part of the Socket Mode client socketEvent needs.
type socketAcker interface {
	AckCtx(ctx context.Context, envelopeID string, payload any) error
}

// socketEvent dispatches one envelope and acknowledges it with the
// answer. A request of another workspace is acknowledged empty (so Slack
// does not redeliver it) and logged; one that finds Kanri busy is not
// acknowledged, so that Slack delivers it again.
func (c *Connector) socketEvent(ctx context.Context, sm socketAcker, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnecting, socketmode.EventTypeConnected, socketmode.EventTypeHello, socketmode.EventTypeDisconnect:
		// Slack rotates connections now and then; the client reconnects.
		c.log.Debug("slack: socket mode", "state", string(evt.Type))
		return
	case socketmode.EventTypeConnectionError, socketmode.EventTypeIncomingError, socketmode.EventTypeErrorBadMessage,
		socketmode.EventTypeErrorWriteFailed, socketmode.EventTypeInvalidAuth:
		c.log.Warn("slack: socket mode", "state", string(evt.Type), "data", fmt.Sprint(evt.Data))
		return
	}
	if evt.Request == nil {
		return
	}
	req := *evt.Request
	in, err := InboundFromSocket(req)
	if err != nil {
		c.log.Warn("slack: socket mode envelope not understood", "type", req.Type, "err", err)
		if req.EnvelopeID != "" {
			c.ack(ctx, sm, req, Ack{})
		}
		return
	}
	ack, err := c.Dispatch(ctx, in)
	switch {
	case errors.Is(err, ErrBusy):
		c.log.Warn("slack: socket mode request not taken: busy", "type", req.Type)
		return
	case errors.Is(err, ErrUnauthorized):
		c.log.Warn("slack: request refused", "transport", TransportSocket, "reason", err.Error())
		ack = Ack{}
	case err != nil:
		c.log.Error("slack: socket mode request failed", "type", req.Type, "err", err)
		return
	}
	c.ack(ctx, sm, req, ack)
}

// ack sends the acknowledgement; it gives up when ctx ends (the
// connection is going away, and Slack redelivers what was not acked).
func (c *Connector) ack(ctx context.Context, sm socketAcker, req socketmode.Request, ack Ack) {
	if err := sm.AckCtx(ctx, req.EnvelopeID, ack.Body); err != nil {
		c.log.Warn("slack: socket mode ack failed", "envelope", req.EnvelopeID, "err", err)
	}
}
