package slack

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
)

// Paths of the HTTP endpoints, as configured in the Slack app (Slash
// Commands, Interactivity, Event Subscriptions).
const (
	PathCommands     = "/slack/commands"
	PathInteractions = "/slack/interactions"
	PathEvents       = "/slack/events"
)

// Handler serves the three endpoints. Each request is read whole (up to
// the body limit), verified on the raw bytes before anything is parsed,
// dispatched, and answered at once; the work follows in a job.
//
//	401  unsigned, forged, tampered, stale, replayed, another workspace
//	413  body over the limit
//	400  a verified body that does not parse
//	503  every job slot taken (Slack retries events), or the replay cache down
func (c *Connector) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST "+PathCommands, c.endpoint(parseCommand))
	mux.Handle("POST "+PathInteractions, c.endpoint(parseInteraction))
	mux.Handle("POST "+PathEvents, c.endpoint(parseEvent))
	return mux
}

func (c *Connector) endpoint(parse func([]byte) (Inbound, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, c.maxBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				c.log.Warn("slack: request refused", "path", r.URL.Path, "remote", r.RemoteAddr, "reason", "body over the limit", "limit", c.maxBody)
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		if err := c.verify(r.Context(), r.Header, body); err != nil {
			c.refuse(w, r, err)
			return
		}
		in, err := parse(body)
		if err != nil {
			c.log.Warn("slack: unreadable request", "path", r.URL.Path, "err", err)
			http.Error(w, "malformed request", http.StatusBadRequest)
			return
		}
		in.Transport = TransportHTTP
		in.RetryNum, _ = strconv.Atoi(r.Header.Get(headerRetryNum))
		in.RetryReason = r.Header.Get(headerRetryReason)
		ack, err := c.Dispatch(r.Context(), in)
		if err != nil {
			c.refuse(w, r, err)
			return
		}
		writeAck(w, ack)
	}
}

// refuse answers a request Kanri does not act on, and logs why.
func (c *Connector) refuse(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrUnauthorized):
		c.log.Warn("slack: request refused", "path", r.URL.Path, "remote", r.RemoteAddr, "reason", err.Error())
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	case errors.Is(err, ErrBusy):
		c.log.Warn("slack: request not taken: busy", "path", r.URL.Path)
		w.Header().Set("Retry-After", "1")
		http.Error(w, "busy", http.StatusServiceUnavailable)
	default:
		c.log.Error("slack: request failed", "path", r.URL.Path, "err", err)
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	}
}

func writeAck(w http.ResponseWriter, ack Ack) {
	if ack.Body == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	b, err := json.Marshal(ack.Body)
	if err != nil {
		http.Error(w, "cannot encode answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
