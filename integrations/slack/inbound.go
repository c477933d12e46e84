package slack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// InboundType says what an Inbound carries.
type InboundType string

// The three kinds of request Slack sends.
const (
	InboundCommand     InboundType = "command"
	InboundInteraction InboundType = "interaction"
	InboundEvent       InboundType = "event"
)

// Transports an Inbound arrives by.
const (
	TransportHTTP   = "http"
	TransportSocket = "socket"
)

// Inbound is one request from Slack, whichever transport brought it. The
// HTTP handler builds it from a verified body, Socket Mode from an
// envelope (InboundFromSocket); Connector.Dispatch handles both alike.
type Inbound struct {
	Type        InboundType
	Transport   string
	Command     slackapi.SlashCommand
	Interaction slackapi.InteractionCallback
	Event       Event
	// RetryNum and RetryReason are Slack's retry count and reason
	// (X-Slack-Retry-Num, or the envelope's retry_attempt); 0 on the
	// first delivery.
	RetryNum    int
	RetryReason string
}

// Event is the outer envelope of an Events API request, with the fields of
// the inner event Kanri reads.
type Event struct {
	Type      string     `json:"type"` // url_verification, event_callback, app_rate_limited
	Challenge string     `json:"challenge"`
	TeamID    string     `json:"team_id"`
	APIAppID  string     `json:"api_app_id"`
	EventID   string     `json:"event_id"`
	EventTime int64      `json:"event_time"`
	Inner     InnerEvent `json:"event"`
}

// InnerEvent is the part of an event Kanri reads.
type InnerEvent struct {
	Type     string `json:"type"` // app_mention, ...
	User     string `json:"user"`
	BotID    string `json:"bot_id"`
	Channel  string `json:"channel"`
	Text     string `json:"text"`
	TS       string `json:"ts"`
	ThreadTS string `json:"thread_ts"`
}

// Ack is the immediate answer to an Inbound: the HTTP response body, or
// the payload of the Socket Mode acknowledgement. A nil Body is an empty
// 200, which Slack takes as "received" (and, for a view submission, as
// "close the modal").
type Ack struct {
	Body any
}

// errIgnored marks a Socket Mode envelope that carries no request
// (hello, disconnect): nothing to dispatch.
var errIgnored = errors.New("not a request")

// parseCommand reads a slash command's form body.
func parseCommand(body []byte) (Inbound, error) {
	r, err := http.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	if err != nil {
		return Inbound{}, err
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	cmd, err := slackapi.SlashCommandParse(r)
	if err != nil {
		return Inbound{}, fmt.Errorf("slash command: %w", err)
	}
	return Inbound{Type: InboundCommand, Command: cmd}, nil
}

// parseInteraction reads the payload field of an interaction's form body.
func parseInteraction(body []byte) (Inbound, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return Inbound{}, fmt.Errorf("interaction: %w", err)
	}
	payload := form.Get("payload")
	if payload == "" {
		return Inbound{}, errors.New("interaction: no payload")
	}
	var cb slackapi.InteractionCallback
	if err := json.Unmarshal([]byte(payload), &cb); err != nil {
		return Inbound{}, fmt.Errorf("interaction: %w", err)
	}
	return Inbound{Type: InboundInteraction, Interaction: cb}, nil
}

// parseEvent reads an Events API body.
func parseEvent(body []byte) (Inbound, error) {
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return Inbound{}, fmt.Errorf("event: %w", err)
	}
	if ev.Type == "" {
		return Inbound{}, errors.New("event: no type")
	}
	return Inbound{Type: InboundEvent, Event: ev}, nil
}

// InboundFromSocket converts a Socket Mode envelope into an Inbound. The
// payloads are the same JSON documents the HTTP endpoints receive (a slash
// command as an object rather than a form), so the rest of the path is
// shared. Envelopes that carry no request (hello, disconnect) give an
// error.
func InboundFromSocket(req socketmode.Request) (Inbound, error) {
	var (
		in  Inbound
		err error
	)
	switch req.Type {
	case socketmode.RequestTypeSlashCommands:
		in.Type = InboundCommand
		err = json.Unmarshal(req.Payload, &in.Command)
	case socketmode.RequestTypeInteractive:
		in.Type = InboundInteraction
		err = json.Unmarshal(req.Payload, &in.Interaction)
	case socketmode.RequestTypeEventsAPI:
		in, err = parseEvent(req.Payload)
	default:
		return Inbound{}, fmt.Errorf("socket mode %q: %w", req.Type, errIgnored)
	}
	if err != nil {
		return Inbound{}, fmt.Errorf("socket mode %s envelope %s: %w", req.Type, req.EnvelopeID, err)
	}
	in.Transport = TransportSocket
	in.RetryNum = req.RetryAttempt
	in.RetryReason = req.RetryReason
	return in, nil
}

// teamOf is the workspace an interaction comes from.
func teamOf(cb *slackapi.InteractionCallback) string {
	switch {
	case cb.Team.ID != "":
		return cb.Team.ID
	case cb.User.TeamID != "":
		return cb.User.TeamID
	default:
		return cb.View.TeamID
	}
}
