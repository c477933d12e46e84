package slack

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack/socketmode"
)

// socketPeer is Slack's end of a Socket Mode connection: it greets, sends
// the envelopes it is given, and collects the acknowledgements.
type socketPeer struct {
	send chan string
	acks chan map[string]any
}

func (f *fakeSlack) acceptSocket(t *testing.T) *socketPeer {
	p := &socketPeer{send: make(chan string, 8), acks: make(chan map[string]any, 8)}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	f.mu.Lock()
	f.ws = func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			t.Errorf("upgrade: %v", err)
			return
		}
		defer conn.Close()
		var wmu sync.Mutex
		write := func(s string) error {
			wmu.Lock()
			defer wmu.Unlock()
			return conn.WriteMessage(websocket.TextMessage, []byte(s))
		}
		if err := write(`{"type":"hello","num_connections":1,"connection_info":{"app_id":"A0KANRI"},"debug_info":{"host":"fake"}}`); err != nil {
			return
		}
		go func() {
			for s := range p.send {
				if write(s) != nil {
					return
				}
			}
		}()
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			var ack map[string]any
			if json.Unmarshal(msg, &ack) == nil {
				p.acks <- ack
			}
		}
	}
	f.mu.Unlock()
	return p
}

func (p *socketPeer) ack(t *testing.T) map[string]any {
	t.Helper()
	select {
	case a := <-p.acks:
		return a
	case <-time.After(5 * time.Second):
		t.Fatal("no acknowledgement within 5 s")
		return nil
	}
}

func envelope(t *testing.T, id, typ string, retry int, payload any) string {
	raw, err := json.Marshal(map[string]any{"envelope_id": id, "type": typ, "payload": payload,
		"accepts_response_payload": typ != socketmode.RequestTypeEventsAPI, "retry_attempt": retry})
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// Socket Mode against a local endpoint: apps.connections.open with the
// app-level token, a WebSocket, envelopes acknowledged by id with the same
// answers the HTTP endpoints give, and the work done by the same jobs.
func TestSocketModeFeedsTheSameDispatcher(t *testing.T) {
	e := newEnv(t)
	peer := e.slack.acceptSocket(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.c.RunSocketMode(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunSocketMode: %v", err)
		}
	}()

	cmd := map[string]any{"team_id": testTeam, "user_id": "U0ALICE", "command": "/kanri", "text": "incident Disk full",
		"trigger_id": "trig-socket", "response_url": e.slack.responseURL("socket"), "channel_id": "C0GENERAL"}
	peer.send <- envelope(t, "env-1", socketmode.RequestTypeSlashCommands, 0, cmd)
	if a := peer.ack(t); a["envelope_id"] != "env-1" || a["payload"] != nil {
		t.Errorf("ack %v", a)
	}

	help := map[string]any{"team_id": testTeam, "user_id": "U0ALICE", "command": "/kanri", "text": "help"}
	peer.send <- envelope(t, "env-2", socketmode.RequestTypeSlashCommands, 0, help)
	a := peer.ack(t)
	if payload, _ := a["payload"].(map[string]any); a["envelope_id"] != "env-2" || !strings.Contains(payload["text"].(string), "/kanri incident") {
		t.Errorf("help ack %v", a)
	}

	ev := map[string]any{"type": "event_callback", "team_id": testTeam, "event_id": "EvS1",
		"event": map[string]any{"type": "app_mention", "user": "U0ALICE", "channel": "C0GENERAL", "ts": "1.000001"}}
	peer.send <- envelope(t, "env-3", socketmode.RequestTypeEventsAPI, 0, ev)
	peer.ack(t)
	peer.send <- envelope(t, "env-4", socketmode.RequestTypeEventsAPI, 1, ev) // Slack's retry
	if a := peer.ack(t); a["envelope_id"] != "env-4" {
		t.Errorf("retry ack %v", a)
	}

	foreign := map[string]any{"team_id": "T0EVIL", "user_id": "U1", "command": "/kanri", "text": "mine", "response_url": e.slack.responseURL("evil")}
	peer.send <- envelope(t, "env-5", socketmode.RequestTypeSlashCommands, 0, foreign)
	if a := peer.ack(t); a["envelope_id"] != "env-5" {
		t.Errorf("foreign ack %v", a)
	}

	e.settle()
	if calls := e.slack.callsTo("apps.connections.open"); len(calls) == 0 || calls[0].Token != "xapp-test" {
		t.Errorf("apps.connections.open %+v", calls)
	}
	trigger, view := e.openedView()
	if trigger != "trig-socket" || view["callback_id"] != cbIncident {
		t.Errorf("views.open %q %v", trigger, view["callback_id"])
	}
	if n := len(e.slack.callsTo("chat.postMessage")); n != 1 {
		t.Errorf("the mention was answered %d times, want 1", n)
	}
	if n := len(e.responses("evil")); n != 0 {
		t.Error("a foreign workspace was answered")
	}
	if !strings.Contains(e.logs.String(), "not the configured workspace") {
		t.Error("the foreign request is not logged")
	}
}

func TestInboundFromSocket(t *testing.T) {
	cmd, err := InboundFromSocket(socketmode.Request{Type: socketmode.RequestTypeSlashCommands, EnvelopeID: "e1",
		Payload: json.RawMessage(`{"team_id":"T1","user_id":"U1","command":"/kanri","text":"mine","is_enterprise_install":"false"}`)})
	if err != nil || cmd.Type != InboundCommand || cmd.Command.UserID != "U1" || cmd.Command.Text != "mine" || cmd.Transport != TransportSocket {
		t.Errorf("command %+v %v", cmd, err)
	}
	click, err := InboundFromSocket(socketmode.Request{Type: socketmode.RequestTypeInteractive, EnvelopeID: "e2",
		Payload: json.RawMessage(`{"type":"block_actions","team":{"id":"T1"},"user":{"id":"U2"},"actions":[{"action_id":"kanri_approve","block_id":"b","value":"changes/CHG-000001"}]}`)})
	if err != nil || click.Type != InboundInteraction || len(click.Interaction.ActionCallback.BlockActions) != 1 ||
		click.Interaction.ActionCallback.BlockActions[0].Value != "changes/CHG-000001" {
		t.Errorf("interaction %+v %v", click, err)
	}
	ev, err := InboundFromSocket(socketmode.Request{Type: socketmode.RequestTypeEventsAPI, EnvelopeID: "e3", RetryAttempt: 2, RetryReason: "timeout",
		Payload: json.RawMessage(`{"type":"event_callback","team_id":"T1","event_id":"Ev1","event":{"type":"app_mention","channel":"C1"}}`)})
	if err != nil || ev.Type != InboundEvent || ev.Event.EventID != "Ev1" || ev.Event.Inner.Channel != "C1" || ev.RetryNum != 2 || ev.RetryReason != "timeout" {
		t.Errorf("event %+v %v", ev, err)
	}
	if _, err := InboundFromSocket(socketmode.Request{Type: socketmode.RequestTypeHello}); !errors.Is(err, errIgnored) {
		t.Errorf("hello: %v", err)
	}
	if _, err := InboundFromSocket(socketmode.Request{Type: socketmode.RequestTypeInteractive, Payload: json.RawMessage(`[`)}); err == nil {
		t.Error("a broken payload was accepted")
	}
}

// recordingAcker records acknowledgements.
type recordingAcker struct {
	mu   sync.Mutex
	acks []string
}

func (r *recordingAcker) AckCtx(_ context.Context, id string, _ any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.acks = append(r.acks, id)
	return nil
}

// An envelope that finds Kanri busy is left unacknowledged, so that Slack
// delivers it again.
func TestBusySocketEnvelopeIsNotAcknowledged(t *testing.T) {
	e := newEnv(t, func(_ *Config, d *Deps) { d.MaxInFlight = 1 })
	gate := make(chan struct{})
	e.cases.gate = gate
	t.Cleanup(func() { close(gate) })
	acker := &recordingAcker{}
	sub, _ := json.Marshal(submission("U0ALICE", cbIncident, "V1", "", map[string]map[string]any{
		inTitle: textValue("x"), inService: selected("email"), inImpact: selected("low"), inUrgency: selected("low"),
	}))
	e.c.socketEvent(context.Background(), acker, socketmode.Event{Type: socketmode.EventTypeInteractive,
		Request: &socketmode.Request{Type: socketmode.RequestTypeInteractive, EnvelopeID: "held", Payload: sub}})
	ev := `{"type":"event_callback","team_id":"` + testTeam + `","event_id":"EvB","event":{"type":"app_mention","channel":"C1","ts":"1.1"}}`
	e.c.socketEvent(context.Background(), acker, socketmode.Event{Type: socketmode.EventTypeEventsAPI,
		Request: &socketmode.Request{Type: socketmode.RequestTypeEventsAPI, EnvelopeID: "busy", Payload: json.RawMessage(ev)}})
	if len(acker.acks) != 1 || acker.acks[0] != "held" {
		t.Errorf("acks %v", acker.acks)
	}
}
