package tracing

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestEndpointURL(t *testing.T) {
	for _, c := range []struct {
		endpoint, protocol, want string
		tracesURL                bool
	}{
		{"otel-collector:4317", ProtocolGRPC, "http://otel-collector:4317", false},
		{"http://otel-collector:4317", "", "http://otel-collector:4317", false},
		{"https://otlp.example.com", ProtocolGRPC, "https://otlp.example.com", false},
		{"http://otel-collector:4318", ProtocolHTTP, "http://otel-collector:4318/v1/traces", false},
		{"https://otlp.example.com/otlp/", ProtocolHTTP, "https://otlp.example.com/otlp/v1/traces", false},
		{"http://otel-collector:4318/v1/traces", ProtocolHTTP, "http://otel-collector:4318/v1/traces", false},
		// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as is.
		{"https://otlp.example.com/api/traces", ProtocolHTTP, "https://otlp.example.com/api/traces", true},
		{"http://otel-collector:4318", ProtocolHTTP, "http://otel-collector:4318", true},
	} {
		got, err := endpointURL(c.endpoint, c.protocol, c.tracesURL)
		if err != nil || got != c.want {
			t.Errorf("%s over %s: %q %v, want %q", c.endpoint, c.protocol, got, err, c.want)
		}
	}
	for _, bad := range []string{"ftp://collector:21", "http://", "http://bad host:1"} {
		if got, err := endpointURL(bad, ProtocolGRPC, false); err == nil {
			t.Errorf("%q accepted as %q", bad, got)
		}
	}
}

func TestNothingWithoutEndpoint(t *testing.T) {
	tr, err := Start(context.Background(), Options{})
	if tr != nil || err != nil {
		t.Fatalf("no endpoint: %v %v", tr, err)
	}
	t.Setenv("OTEL_SDK_DISABLED", "true")
	if tr, err = Start(context.Background(), Options{Endpoint: "http://collector:4317"}); tr != nil || err != nil {
		t.Fatalf("OTEL_SDK_DISABLED: %v %v", tr, err)
	}
	// A nil Tracing leaves everything as it is.
	h := http.NewServeMux()
	if tr.Handler(h) != http.Handler(h) || tr.Interceptors() != nil || tr.Shutdown(context.Background()) != nil {
		t.Error("a nil Tracing installed something")
	}
	if _, err := Start(context.Background(), Options{Endpoint: "http://collector:4317", Protocol: "smoke"}); err != nil {
		// OTEL_SDK_DISABLED wins over a bad protocol: nothing is built.
		t.Errorf("disabled: %v", err)
	}
}

// Spans reach an OTLP/HTTP receiver, flushed at shutdown; a gRPC exporter
// to a receiver that is not there does not stop the start.
func TestExportOverOTLP(t *testing.T) {
	var posts atomic.Int32
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" {
			_, _ = io.Copy(io.Discard, r.Body)
			posts.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer receiver.Close()

	ctx := context.Background()
	tr, err := Start(ctx, Options{Endpoint: receiver.URL, Protocol: ProtocolHTTP, Command: "server"})
	if err != nil || tr == nil {
		t.Fatalf("start: %v %v", tr, err)
	}
	h := tr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/v1/incidents", nil))
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if posts.Load() == 0 {
		t.Error("no spans reached the OTLP receiver")
	}

	if _, err := Start(ctx, Options{Endpoint: receiver.URL, Protocol: "smoke"}); err == nil {
		t.Error("an unknown protocol was accepted")
	}
	g, err := Start(ctx, Options{Endpoint: "127.0.0.1:1", Protocol: ProtocolGRPC})
	if err != nil || g == nil {
		t.Fatalf("gRPC exporter to nowhere: %v %v", g, err)
	}
	sctx, cancel := context.WithCancel(ctx)
	cancel() // do not wait for the receiver that is not there
	_ = g.Shutdown(sctx)
}

func TestHandlerSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tr, err := New(tp)
	if err != nil {
		t.Fatal(err)
	}
	var inner trace.SpanContext
	h := tr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner = trace.SpanContextFromContext(r.Context())
	}))
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	if n := len(rec.Ended()); n != 0 {
		t.Errorf("%d spans for health checks and scrapes", n)
	}

	req := httptest.NewRequest(http.MethodPost, "/api/v1/incidents/INC-000042/actions", nil)
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	req.Header.Set("traceparent", parent)
	h.ServeHTTP(httptest.NewRecorder(), req)
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.Name() != "POST /api/v1/incidents/{id}/actions" || s.SpanKind() != trace.SpanKindServer {
		t.Errorf("span %q of kind %v", s.Name(), s.SpanKind())
	}
	if s.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || s.Parent().SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("the caller's trace is not continued: trace %s parent %s", s.SpanContext().TraceID(), s.Parent().SpanID())
	}
	if inner.SpanID() != s.SpanContext().SpanID() {
		t.Error("the handler does not see the server span in its context")
	}
	if len(tr.Interceptors()) != 1 {
		t.Error("no Temporal interceptor")
	}
}

func TestRoute(t *testing.T) {
	for in, want := range map[string]string{
		"/api/v1/incidents":                    "/api/v1/incidents",
		"/api/v1/incidents/INC-000042":         "/api/v1/incidents/{id}",
		"/api/v1/changes/CHG-000001/actions":   "/api/v1/changes/{id}/actions",
		"/api/v1/corrective-actions/CAPA-0007": "/api/v1/corrective-actions/{id}",
		"/api/v1/cis/mx1":                      "/api/v1/cis/mx1",
		"/api/v1/notifications/12":             "/api/v1/notifications/{id}",
	} {
		if got := Route(in); got != want {
			t.Errorf("Route(%q) = %q, want %q", in, got, want)
		}
	}
}
