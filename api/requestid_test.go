package api

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
)

// Every answer names its request: the caller's X-Request-ID when it is a
// sane token, else a fresh one.
func TestRequestID(t *testing.T) {
	h := New(Options{})
	get := func(id string) string {
		r := httptest.NewRequest(http.MethodGet, "/healthz", nil)
		if id != "" {
			r.Header.Set("X-Request-ID", id)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Header().Get("X-Request-ID")
	}
	if got := get("trace-42.a:b_c"); got != "trace-42.a:b_c" {
		t.Errorf("a sane id is not kept: %q", got)
	}
	fresh := regexp.MustCompile(`^[0-9a-f]{16}$`)
	for _, bad := range []string{"", "with space", "new\nline", string(make([]byte, 65))} {
		if got := get(bad); !fresh.MatchString(got) {
			t.Errorf("id %q: answered %q, want a fresh one", bad, got)
		}
	}
	if a, b := get(""), get(""); a == b {
		t.Errorf("two requests got the same id %q", a)
	}
}
