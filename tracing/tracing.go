// Package tracing follows a request with OpenTelemetry from the HTTP API
// through the case's workflow to its activities, and exports the spans over
// OTLP. Nothing is installed unless an endpoint is configured: a nil
// *Tracing is valid and leaves handlers and clients as they are.
//
// The pieces are passed explicitly (no global tracer provider or
// propagator is set): the HTTP server span comes from otelhttp around the
// API's handler, and the Temporal SDK's OpenTelemetry interceptor, set on
// the client, carries the span context in the workflow's headers, so the
// API side's StartWorkflow (UpdateWithStart on a server) and
// UpdateWorkflow, RunWorkflow and the update handler on a worker, and
// StartActivity/RunActivity share one trace.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
)

// Protocols of the OTLP exporter.
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http/protobuf"
)

// Options configure the OTLP exporter.
type Options struct {
	// Endpoint of the OTLP receiver (an OpenTelemetry Collector, Jaeger,
	// Tempo, ...): a URL such as http://otel-collector:4317, where http://
	// is plaintext and https:// is TLS. A bare host:port is plaintext. With
	// ProtocolHTTP the path defaults to /v1/traces. Empty: no tracing.
	Endpoint string
	// TracesURL says that Endpoint is the traces URL itself, used as is
	// (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), not a base URL (the
	// specification appends /v1/traces only to OTEL_EXPORTER_OTLP_ENDPOINT).
	TracesURL bool
	// Protocol is ProtocolGRPC (the default) or ProtocolHTTP.
	Protocol string
	// ServiceName is the service.name resource attribute (default "kanri";
	// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override it).
	ServiceName string
	// Command is the kanri command (server, worker, dev), recorded as the
	// kanri.command resource attribute.
	Command string
}

// Tracing is what a process installs when tracing is on.
type Tracing struct {
	provider    trace.TracerProvider
	propagator  propagation.TextMapPropagator
	interceptor interceptor.Interceptor
	shutdown    func(context.Context) error
}

// Start builds the OTLP exporter and the tracer provider. Without an
// endpoint (or with OTEL_SDK_DISABLED=true, as the OpenTelemetry SDKs
// agree) it returns nil and nothing is installed. The exporter connects
// lazily: an unreachable collector costs dropped spans, never a failed
// start. The sampler follows OTEL_TRACES_SAMPLER (default: parent-based,
// always on).
func Start(ctx context.Context, o Options) (*Tracing, error) {
	if o.Endpoint == "" || strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true") {
		return nil, nil
	}
	exp, err := exporter(ctx, o)
	if err != nil {
		return nil, err
	}
	name := o.ServiceName
	if name == "" {
		name = "kanri"
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", name)}
	if o.Command != "" {
		attrs = append(attrs, attribute.String("kanri.command", o.Command))
	}
	// Later options win: the environment overrides Kanri's defaults.
	res, err := resource.New(ctx, resource.WithTelemetrySDK(), resource.WithAttributes(attrs...), resource.WithFromEnv())
	if err != nil && res == nil {
		_ = exp.Shutdown(ctx)
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	t, err := New(tp)
	if err != nil {
		_ = tp.Shutdown(ctx)
		return nil, err
	}
	t.shutdown = tp.Shutdown
	return t, nil
}

func exporter(ctx context.Context, o Options) (sdktrace.SpanExporter, error) {
	endpoint, err := endpointURL(o.Endpoint, o.Protocol, o.TracesURL)
	if err != nil {
		return nil, err
	}
	var exp sdktrace.SpanExporter
	switch o.Protocol {
	case "", ProtocolGRPC:
		exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(endpoint))
	case ProtocolHTTP:
		exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	default:
		return nil, fmt.Errorf("tracing: OTLP protocol %q: want %s or %s", o.Protocol, ProtocolGRPC, ProtocolHTTP)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter for %s: %w", endpoint, err)
	}
	return exp, nil
}

// endpointURL turns the configured endpoint into the URL the exporter
// takes; a traces URL keeps its path.
func endpointURL(endpoint, protocol string, tracesURL bool) (string, error) {
	raw := strings.TrimSpace(endpoint)
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("tracing: OTLP endpoint %q: %w", endpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("tracing: OTLP endpoint %q: the scheme must be http or https", endpoint)
	}
	if u.Host == "" {
		return "", fmt.Errorf("tracing: OTLP endpoint %q has no host", endpoint)
	}
	if protocol == ProtocolHTTP && !tracesURL && !strings.HasSuffix(u.Path, "/v1/traces") {
		// As OTEL_EXPORTER_OTLP_ENDPOINT: a base URL the signal's path is
		// appended to.
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
	}
	return u.String(), nil
}

// New builds the HTTP middleware and the Temporal interceptor over a
// tracer provider. Start uses it with the OTLP exporter; tests pass one that
// records spans in memory.
func New(tp trace.TracerProvider) (*Tracing, error) {
	if tp == nil {
		return nil, errors.New("tracing: no tracer provider")
	}
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	ic, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{
		Tracer:            tp.Tracer("go.temporal.io/sdk"),
		TextMapPropagator: prop,
	})
	if err != nil {
		return nil, fmt.Errorf("tracing: temporal interceptor: %w", err)
	}
	return &Tracing{provider: tp, propagator: prop, interceptor: ic}, nil
}

// Interceptors are for client.Options.Interceptors. The SDK also applies
// them to every worker made from that client, which traces workflows,
// updates and activities. Nil without tracing.
func (t *Tracing) Interceptors() []interceptor.ClientInterceptor {
	if t == nil {
		return nil
	}
	return []interceptor.ClientInterceptor{t.interceptor}
}

// Handler wraps the HTTP API in a server span per request, continuing a
// trace the caller sent in traceparent. Health, readiness and metrics
// scrapes are not traced. Without tracing it returns h itself.
func (t *Tracing) Handler(h http.Handler) http.Handler {
	if t == nil {
		return h
	}
	return otelhttp.NewHandler(h, "kanri",
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(t.propagator),
		// Kanri's request metrics are its own (kanri_http_*).
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithFilter(func(r *http.Request) bool {
			switch r.URL.Path {
			case "/healthz", "/readyz", "/metrics":
				return false
			}
			return true
		}),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			return r.Method + " " + Route(r.URL.Path)
		}),
	)
}

// caseID matches a case id (INC-000042) or a number in a path.
var caseID = regexp.MustCompile(`^(?:[A-Z]+-\d+|\d+)$`)

// Route is a request path with its ids replaced by {id}, so that span
// names stay few: /api/v1/incidents/INC-000042/actions becomes
// /api/v1/incidents/{id}/actions.
func Route(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if caseID.MatchString(p) {
			parts[i] = "{id}"
		}
	}
	return strings.Join(parts, "/")
}

// Shutdown flushes the spans still buffered and stops the exporter. Nil
// without tracing, or for a provider New was given (its owner shuts it).
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.shutdown == nil {
		return nil
	}
	// Bounded: an unreachable collector must not hold up a stopping pod.
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return t.shutdown(ctx)
}
