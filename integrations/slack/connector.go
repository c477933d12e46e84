package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/workflows"
)

// Defaults of Deps.
const (
	DefaultMaxInFlight  = 32
	DefaultJobTimeout   = 30 * time.Second
	DefaultMaxBodyBytes = 1 << 20
)

// Source is the source Kanri records for what comes through Slack.
const Source = "slack"

// ErrBusy means every job slot is taken: the request was not accepted and
// nothing was done. HTTP answers 503, which makes Slack retry an event.
var ErrBusy = errors.New("slack: busy")

// Deps is what a Connector works with. Cases, Directory, Messages and
// Replay are required; the rest have defaults.
type Deps struct {
	Cases     Cases
	Directory Directory
	Messages  Messages
	Replay    ReplayCache
	// Catalogue fills the selects of the modals.
	Catalogue Catalogue
	// Logger gets refusals (with their reason) and failures; nil means
	// slog.Default().
	Logger *slog.Logger
	// HTTPClient calls Slack's Web API and response URLs; nil means a
	// client with a 15 s timeout.
	HTTPClient *http.Client
	// Now and Sleep are the clock; nil means the real one. Tests set them.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// MaxInFlight bounds the jobs running at once; JobTimeout bounds each.
	MaxInFlight int
	JobTimeout  time.Duration
	// MaxBodyBytes bounds an HTTP request body.
	MaxBodyBytes int64
}

// Connector is the Slack edge: the HTTP handler, the Socket Mode client,
// the dispatcher they share, and what the Notifier builds on.
type Connector struct {
	cfg     Config
	api     *slackapi.Client
	http    *http.Client
	cases   Cases
	dir     Directory
	msgs    Messages
	replay  ReplayCache
	cat     Catalogue
	log     *slog.Logger
	now     func() time.Time
	sleep   func(context.Context, time.Duration) error
	maxBody int64
	jobs    *jobs
	locks   keyedMutex
	// apiHost is the host of the Web API: response URLs may point there
	// besides hooks.slack.com (a test server, a proxy).
	apiHost string
}

// reader is the actor the connector reads records as, to render messages
// for several people at once. Process owners read every case; the
// connector never acts as it.
var reader = workflows.Actor{ID: "slack-connector", Roles: []string{policy.RoleProcessOwner}}

// New builds a Connector from a resolved configuration. Close it to stop
// the work in flight.
func New(cfg Config, d Deps) (*Connector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Cases == nil || d.Directory == nil || d.Messages == nil || d.Replay == nil {
		return nil, errors.New("slack: New needs Cases, Directory, Messages and Replay")
	}
	c := &Connector{
		cfg: cfg, cases: d.Cases, dir: d.Directory, msgs: d.Messages, replay: d.Replay, cat: d.Catalogue,
		log: d.Logger, http: d.HTTPClient, now: d.Now, sleep: d.Sleep, maxBody: d.MaxBodyBytes,
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: 15 * time.Second}
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxBodyBytes
	}
	limit, timeout := d.MaxInFlight, d.JobTimeout
	if limit <= 0 {
		limit = DefaultMaxInFlight
	}
	if timeout <= 0 {
		timeout = DefaultJobTimeout
	}
	c.jobs = newJobs(c.log, limit, timeout)
	u, err := url.Parse(cfg.apiURL())
	if err != nil {
		return nil, fmt.Errorf("slack: api_url: %w", err)
	}
	c.apiHost = u.Host
	c.api = slackapi.New(cfg.BotToken, slackapi.OptionAPIURL(cfg.apiURL()), slackapi.OptionHTTPClient(c.http))
	return c, nil
}

// Close stops accepting work and waits for the jobs in flight; when ctx
// ends first they are cancelled.
func (c *Connector) Close(ctx context.Context) error {
	return c.jobs.close(ctx)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Dispatch handles one verified request: it checks the workspace, answers
// what can be answered at once, and starts the rest as a job. It never
// waits for a case command or the Web API. The errors are ErrUnauthorized
// (another workspace), ErrBusy, or a failure of the ReplayCache.
func (c *Connector) Dispatch(ctx context.Context, in Inbound) (Ack, error) {
	switch in.Type {
	case InboundCommand:
		return c.dispatchCommand(in.Command)
	case InboundInteraction:
		return c.dispatchInteraction(ctx, in.Interaction)
	case InboundEvent:
		return c.dispatchEvent(ctx, in)
	default:
		return Ack{}, fmt.Errorf("slack: unknown inbound type %q", in.Type)
	}
}

func (c *Connector) checkTeam(team string) error {
	if team != c.cfg.TeamID {
		return refused("team %q is not the configured workspace", team)
	}
	return nil
}

// eventMemory is how long an event id is remembered: Slack's last retry
// comes about five minutes after the first delivery.
const eventMemory = time.Hour

func (c *Connector) dispatchEvent(ctx context.Context, in Inbound) (Ack, error) {
	ev := in.Event
	switch ev.Type {
	case "url_verification":
		// Only reachable over HTTP, after the signature check.
		return Ack{Body: map[string]string{"challenge": ev.Challenge}}, nil
	case "app_rate_limited":
		c.log.Warn("slack: Slack is rate-limiting the events sent to Kanri", "team", ev.TeamID)
		return Ack{}, nil
	case "event_callback":
	default:
		return Ack{}, nil
	}
	if err := c.checkTeam(ev.TeamID); err != nil {
		return Ack{}, err
	}
	if ev.EventID == "" {
		return Ack{}, nil
	}
	// The slot is taken before the id is recorded: an event recorded but
	// never handled would be lost, since its retries would be skipped.
	t, ok := c.jobs.reserve()
	if !ok {
		return Ack{}, ErrBusy
	}
	now := c.now()
	seen, err := c.replay.Seen(ctx, "event:"+ev.EventID, now, now.Add(eventMemory))
	if err != nil {
		t.release()
		return Ack{}, fmt.Errorf("slack: replay cache: %w", err)
	}
	if seen {
		t.release()
		// A retry of an event whose first delivery was accepted: answer
		// 200 so Slack stops, and do nothing.
		c.log.Debug("slack: retried event acknowledged", "event_id", ev.EventID, "retry", in.RetryNum, "reason", in.RetryReason)
		return Ack{}, nil
	}
	t.run("event "+ev.Inner.Type, func(ctx context.Context) { c.handleEvent(ctx, ev) })
	return Ack{}, nil
}

// handleEvent answers a mention with the help, in the thread.
func (c *Connector) handleEvent(ctx context.Context, ev Event) {
	in := ev.Inner
	if in.Type != "app_mention" || in.BotID != "" {
		return
	}
	ts := in.ThreadTS
	if ts == "" {
		ts = in.TS
	}
	_, _, err := c.post(ctx, in.Channel, slackapi.MsgOptionText(c.helpText(), false), slackapi.MsgOptionTS(ts))
	if err != nil {
		c.log.Warn("slack: answer to a mention failed", "channel", in.Channel, "err", err)
	}
}

// Calls to the Web API. An interactive call waits out a short rate limit
// (Retry-After) a couple of times; the Notifier handles longer ones itself.
const (
	interactiveRetries = 2
	maxInteractiveWait = 10 * time.Second
)

// noWaitKey marks a context whose calls must not wait out rate limits:
// the Notifier's, which pauses as a whole instead.
type noWaitKey struct{}

func withoutRateWait(ctx context.Context) context.Context {
	return context.WithValue(ctx, noWaitKey{}, true)
}

func (c *Connector) retry(ctx context.Context, call func(context.Context) error) error {
	retries := interactiveRetries
	if ctx.Value(noWaitKey{}) != nil {
		retries = 0
	}
	for attempt := 0; ; attempt++ {
		err := call(ctx)
		var rl *slackapi.RateLimitedError
		if !errors.As(err, &rl) || attempt >= retries || rl.RetryAfter > maxInteractiveWait {
			return err
		}
		if err := c.sleep(ctx, max(rl.RetryAfter, time.Second)); err != nil {
			return err
		}
	}
}

// post sends a message (chat.postMessage) and returns the conversation id
// Slack answered with and the message's ts.
func (c *Connector) post(ctx context.Context, channel string, opts ...slackapi.MsgOption) (string, string, error) {
	var ch, ts string
	err := c.retry(ctx, func(ctx context.Context) (err error) {
		ch, ts, err = c.api.PostMessageContext(ctx, channel, opts...)
		return err
	})
	if err != nil {
		return "", "", fmt.Errorf("slack: chat.postMessage to %s: %w", channel, err)
	}
	return ch, ts, nil
}

// update replaces a message (chat.update).
func (c *Connector) update(ctx context.Context, channel, ts string, opts ...slackapi.MsgOption) error {
	err := c.retry(ctx, func(ctx context.Context) error {
		_, _, _, err := c.api.UpdateMessageContext(ctx, channel, ts, opts...)
		return err
	})
	if err != nil {
		return fmt.Errorf("slack: chat.update %s/%s: %w", channel, ts, err)
	}
	return nil
}

func (c *Connector) openView(ctx context.Context, triggerID string, view slackapi.ModalViewRequest) error {
	err := c.retry(ctx, func(ctx context.Context) error {
		_, err := c.api.OpenViewContext(ctx, triggerID, view)
		return err
	})
	if err != nil {
		return fmt.Errorf("slack: views.open: %w", err)
	}
	return nil
}

// respond posts an ephemeral message to a response_url: it reaches the
// person who acted, where they acted.
func (c *Connector) respond(ctx context.Context, responseURL, text string, blocks ...slackapi.Block) error {
	if responseURL == "" {
		return errors.New("slack: no response_url")
	}
	if !c.trustedResponseURL(responseURL) {
		return fmt.Errorf("slack: response_url %q is not Slack's", responseURL)
	}
	opts := []slackapi.MsgOption{
		slackapi.MsgOptionResponseURL(responseURL, slackapi.ResponseTypeEphemeral),
		slackapi.MsgOptionText(text, false),
	}
	if len(blocks) > 0 {
		opts = append(opts, slackapi.MsgOptionBlocks(blocks...))
	}
	err := c.retry(ctx, func(ctx context.Context) error {
		_, _, err := c.api.PostMessageContext(ctx, "", opts...)
		return err
	})
	if err != nil {
		return fmt.Errorf("slack: response_url: %w", err)
	}
	return nil
}

// trustedResponseURL keeps the connector from posting to any URL a
// payload names. Payloads are signed, so this is defence in depth.
func (c *Connector) trustedResponseURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch {
	case u.Scheme == "https" && (u.Host == "hooks.slack.com" || u.Host == "hooks.slack-gov.com"):
		return true
	case (u.Scheme == "https" || u.Scheme == "http") && u.Host == c.apiHost:
		return true
	}
	return false
}

// tell answers a person: through the response_url when there is one, else
// by DM. Failures are logged; there is no one else to tell.
func (c *Connector) tell(ctx context.Context, responseURL, slackUser, text string, blocks ...slackapi.Block) {
	if responseURL != "" {
		err := c.respond(ctx, responseURL, text, blocks...)
		if err == nil {
			return
		}
		c.log.Warn("slack: answer through response_url failed; trying a DM", "user", slackUser, "err", err)
	}
	if slackUser == "" {
		return
	}
	opts := []slackapi.MsgOption{slackapi.MsgOptionText(text, false)}
	if len(blocks) > 0 {
		opts = append(opts, slackapi.MsgOptionBlocks(blocks...))
	}
	if _, _, err := c.post(ctx, slackUser, opts...); err != nil {
		c.log.Warn("slack: DM failed", "user", slackUser, "err", err)
	}
}

// actorOf resolves the Slack user who acted. ok is false when the user is
// unknown; they have been told how to link.
func (c *Connector) actorOf(ctx context.Context, team, slackUser, responseURL string) (workflows.Actor, bool) {
	actor, ok, err := c.dir.UserBySlackID(ctx, team, slackUser)
	if err != nil {
		c.log.Error("slack: directory lookup failed", "user", slackUser, "err", err)
		c.tell(ctx, responseURL, slackUser, "Kanri could not look you up just now. Please try again in a moment.")
		return workflows.Actor{}, false
	}
	if !ok {
		c.tell(ctx, responseURL, slackUser, c.unlinkedText())
		return workflows.Actor{}, false
	}
	return actor, true
}
