package slack

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// fakeSlack stands in for Slack's Web API and response URLs: it answers
// the methods Kanri calls, records every call, and can be told to fail the
// next calls of a method (a 429 with Retry-After, or a Slack error).
type fakeSlack struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	calls    []apiCall
	seq      int
	failures map[string][]fakeFailure
	ws       http.HandlerFunc
}

// apiCall is one request the fake received. Method is the Web API method,
// or "response_url" for a post to a response URL.
type apiCall struct {
	Method string
	Path   string
	Form   url.Values     // form and query values
	JSON   map[string]any // a JSON body
	Token  string
}

type fakeFailure struct {
	status     int
	retryAfter string
	slackError string
}

func newFakeSlack(t *testing.T) *fakeSlack {
	f := &fakeSlack{t: t, failures: map[string][]fakeFailure{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSlack) apiURL() string { return f.srv.URL + "/api/" }

// responseURL is a response_url that posts back to the fake.
func (f *fakeSlack) responseURL(name string) string { return f.srv.URL + "/response/" + name }

// rateLimit makes the next call of method answer 429 with Retry-After.
func (f *fakeSlack) rateLimit(method, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures[method] = append(f.failures[method], fakeFailure{status: http.StatusTooManyRequests, retryAfter: retryAfter})
}

// failWith makes the next call of method answer ok:false with the error.
func (f *fakeSlack) failWith(method, slackError string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures[method] = append(f.failures[method], fakeFailure{status: http.StatusOK, slackError: slackError})
}

// failHTTP makes the next call of method answer with an HTTP status.
func (f *fakeSlack) failHTTP(method string, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures[method] = append(f.failures[method], fakeFailure{status: status})
}

func (f *fakeSlack) callsTo(method string) []apiCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []apiCall
	for _, c := range f.calls {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeSlack) allCalls() []apiCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]apiCall(nil), f.calls...)
}

func (f *fakeSlack) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/ws" {
		f.mu.Lock()
		ws := f.ws
		f.mu.Unlock()
		if ws == nil {
			http.NotFound(w, r)
			return
		}
		ws(w, r)
		return
	}
	call := apiCall{Path: r.URL.Path, Token: strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")}
	body, _ := io.ReadAll(r.Body)
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") && len(body) > 0 {
		if err := json.Unmarshal(body, &call.JSON); err != nil {
			f.t.Errorf("fake slack: bad JSON to %s: %v", r.URL.Path, err)
		}
	} else {
		call.Form, _ = url.ParseQuery(string(body))
	}
	for k, v := range r.URL.Query() {
		if call.Form == nil {
			call.Form = url.Values{}
		}
		call.Form[k] = v
	}
	if call.Token == "" && call.Form != nil {
		call.Token = call.Form.Get("token")
	}
	switch {
	case strings.HasPrefix(r.URL.Path, "/response/"):
		call.Method = "response_url"
	case strings.HasPrefix(r.URL.Path, "/api/"):
		call.Method = strings.TrimPrefix(r.URL.Path, "/api/")
	default:
		http.NotFound(w, r)
		return
	}

	f.mu.Lock()
	f.calls = append(f.calls, call)
	var fail *fakeFailure
	if q := f.failures[call.Method]; len(q) > 0 {
		fail, f.failures[call.Method] = &q[0], q[1:]
	}
	f.seq++
	seq := f.seq
	f.mu.Unlock()

	if fail != nil {
		if fail.retryAfter != "" {
			w.Header().Set("Retry-After", fail.retryAfter)
		}
		if fail.slackError != "" {
			writeJSON(w, map[string]any{"ok": false, "error": fail.slackError})
			return
		}
		w.WriteHeader(fail.status)
		return
	}

	ts := fmt.Sprintf("1700000000.%06d", seq)
	switch call.Method {
	case "response_url":
		writeJSON(w, map[string]any{"ok": true})
	case "chat.postMessage":
		ch := call.Form.Get("channel")
		if strings.HasPrefix(ch, "U") {
			ch = "D" + ch[1:] // a DM is answered with the conversation's id
		}
		writeJSON(w, map[string]any{"ok": true, "channel": ch, "ts": ts})
	case "chat.update":
		writeJSON(w, map[string]any{"ok": true, "channel": call.Form.Get("channel"), "ts": call.Form.Get("ts")})
	case "views.open":
		writeJSON(w, map[string]any{"ok": true, "view": map[string]any{"id": fmt.Sprintf("V%d", seq)}})
	case "chat.getPermalink":
		writeJSON(w, map[string]any{"ok": true, "channel": call.Form.Get("channel"),
			"permalink": "https://acme.slack.com/archives/" + call.Form.Get("channel") + "/p" + strings.ReplaceAll(call.Form.Get("message_ts"), ".", "")})
	case "apps.connections.open":
		writeJSON(w, map[string]any{"ok": true, "url": "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/ws"})
	default:
		writeJSON(w, map[string]any{"ok": false, "error": "unknown_method"})
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// text of a call: the text field of a form or a JSON body.
func (c apiCall) text() string {
	if c.JSON != nil {
		s, _ := c.JSON["text"].(string)
		return s
	}
	return c.Form.Get("text")
}

// blocks of a call (or the view of views.open), as JSON without HTML
// escaping, so that assertions read "<@U1>" rather than "\u003c@U1\u003e".
func (c apiCall) blocks() string {
	var v any
	switch {
	case c.JSON != nil && c.JSON["blocks"] != nil:
		v = c.JSON["blocks"]
	case c.JSON != nil && c.JSON["view"] != nil:
		v = c.JSON["view"]
	case c.Form.Get("blocks") != "":
		if err := json.Unmarshal([]byte(c.Form.Get("blocks")), &v); err != nil {
			return c.Form.Get("blocks")
		}
	default:
		return ""
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSpace(b.String())
}

// everything is the text and the blocks, for assertions on content.
func (c apiCall) everything() string { return c.text() + "\n" + c.blocks() }
