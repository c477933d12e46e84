package api

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

// A client that hangs up is no server error: 499 and an info line, not a
// 500 and an ERROR. A cancel the client did not cause stays a 500.
func TestFailOnAClientThatWentAway(t *testing.T) {
	var log bytes.Buffer
	s := &server{Options{Logger: slog.New(slog.NewTextHandler(&log, nil))}}
	answer := func(reqCtx context.Context, err error) int {
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		c.Request = httptest.NewRequestWithContext(reqCtx, http.MethodPost, "/api/v1/incidents", nil)
		s.fail(c, fmt.Errorf("INC-000001: %w", err))
		return w.Code
	}

	gone, cancel := context.WithCancel(context.Background())
	cancel()
	// The shapes a cut-short call reports its cancel in: the context's
	// error, gRPC's status (eager start) and the update's (UpdateWithStart).
	for _, err := range []error{
		context.Canceled,
		serviceerror.NewCanceled("context canceled"),
		client.NewWorkflowUpdateServiceTimeoutOrCanceledError(serviceerror.NewCanceled("context canceled")),
	} {
		log.Reset()
		if code := answer(gone, err); code != statusClientClosedRequest {
			t.Errorf("client gone (%T): %d, want %d", err, code, statusClientClosedRequest)
		}
		if strings.Contains(log.String(), "level=ERROR") || !strings.Contains(log.String(), "client went away") {
			t.Errorf("client gone (%T) logged: %s", err, log.String())
		}
	}

	log.Reset()
	if code := answer(context.Background(), context.Canceled); code != http.StatusInternalServerError {
		t.Errorf("a cancel the client did not cause: %d, want 500", code)
	}
	if !strings.Contains(log.String(), "level=ERROR") {
		t.Errorf("a server-side cancel was not logged as an error: %s", log.String())
	}
}
