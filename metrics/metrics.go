// Package metrics holds Kanri's Prometheus metrics. They live on a registry
// the process creates, not on the global default one.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the counters the workers and the API update.
type Metrics struct {
	Registry         *prometheus.Registry
	casesOpened      *prometheus.CounterVec
	transitions      *prometheus.CounterVec
	slaWarnings      *prometheus.CounterVec
	slaBreaches      *prometheus.CounterVec
	activityFailures *prometheus.CounterVec
	HTTPRequests     *prometheus.CounterVec
	HTTPDuration     *prometheus.HistogramVec
	// sdk holds what the Temporal SDK reports through Temporal().
	sdk *sdkCollector
}

// New creates the metrics on a fresh registry, with the Go runtime and
// process collectors and the Temporal SDK's metrics (see Temporal) beside
// them.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		casesOpened: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kanri_cases_opened_total", Help: "Cases opened, by kind.",
		}, []string{"kind"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kanri_transitions_total", Help: "Transitions projected into the database, by kind and action.",
		}, []string{"kind", "action"}),
		slaWarnings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kanri_sla_warnings_total", Help: "Early warnings of an impending SLA breach, by kind.",
		}, []string{"kind"}),
		slaBreaches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kanri_sla_breaches_total", Help: "SLA breaches, by kind.",
		}, []string{"kind"}),
		activityFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kanri_activity_failures_total", Help: "Failed activity attempts (each is retried), by kind and activity.",
		}, []string{"kind", "activity"}),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kanri_http_requests_total", Help: "HTTP requests, by method, route and status.",
		}, []string{"method", "route", "status"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kanri_http_request_duration_seconds", Help: "HTTP request latency, by method and route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
		sdk: newSDKCollector(),
	}
	m.Registry.MustRegister(m.casesOpened, m.transitions, m.slaWarnings, m.slaBreaches, m.activityFailures,
		m.HTTPRequests, m.HTTPDuration, m.sdk,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Transition counts one projected transition (activities.Observer).
func (m *Metrics) Transition(kind, action string) {
	m.transitions.WithLabelValues(kind, action).Inc()
	switch action {
	case "open":
		m.casesOpened.WithLabelValues(kind).Inc()
	case "sla_warning":
		m.slaWarnings.WithLabelValues(kind).Inc()
	case "sla_breach":
		m.slaBreaches.WithLabelValues(kind).Inc()
	}
}

// ProjectFailed counts a failed projection attempt (activities.Observer).
func (m *Metrics) ProjectFailed(kind string) {
	m.activityFailures.WithLabelValues(kind, "Project").Inc()
}
