package metrics

import (
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// Temporal is the handler through which the Temporal SDK reports its own
// metrics (temporal_workflow_task_schedule_to_start_latency,
// temporal_activity_execution_latency, temporal_request, ...). Set it as
// client.Options.MetricsHandler: the client and every worker created from
// it report on Kanri's registry, so /metrics shows them next to Kanri's own.
//
// Names follow the SDK's tally/Prometheus setup, which Temporal's published
// SDK dashboards query: a counter gets _total (temporal_request_total), a
// timer becomes a histogram in seconds named with _seconds
// (temporal_request_latency_seconds_bucket, _sum, _count), and a gauge
// keeps the SDK's name (temporal_worker_task_slots_available).
func (m *Metrics) Temporal() client.MetricsHandler {
	return sdkHandler{c: m.sdk}
}

// sdkLatencyBuckets spans a fast local activity (1 ms) to a task that
// waited minutes for a free worker (schedule-to-start).
var sdkLatencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

type sdkKind int

const (
	sdkCounter sdkKind = iota
	sdkGauge
	sdkTimer
)

func (k sdkKind) String() string {
	return [...]string{"counter", "gauge", "timer"}[k]
}

// suffix is what Prometheus conventions append to a name of the kind.
func (k sdkKind) suffix() string {
	return [...]string{"_total", "", "_seconds"}[k]
}

// sdkCollector holds every series the SDK has reported and hands them to
// the registry at each scrape. The SDK tags one metric name with different
// tag sets depending on where it reports from (a client call has no
// worker_type; a poller has no workflow_type), while Prometheus wants one
// set of label names per metric: at a scrape each family gets the union of
// its series' label names, a label a series lacks being empty (which
// Prometheus reads as absent).
type sdkCollector struct {
	mu       sync.RWMutex
	families map[string]*sdkFamily
}

type sdkFamily struct {
	name string
	kind sdkKind
	mu   sync.RWMutex
	// series by their canonical label string (see labelKey).
	series map[string]*sdkSeries
}

type sdkSeries struct {
	labels map[string]string
	// value is a counter's count, or a gauge's float64 bits.
	value atomic.Uint64
	// A timer's histogram.
	hmu     sync.Mutex
	buckets []uint64
	count   uint64
	sum     float64
}

func newSDKCollector() *sdkCollector {
	return &sdkCollector{families: map[string]*sdkFamily{}}
}

// Describe sends nothing: the series are only known as the SDK reports
// them, so the collector is an unchecked one.
func (c *sdkCollector) Describe(chan<- *prometheus.Desc) {}

func (c *sdkCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.RLock()
	fams := slices.Collect(maps.Values(c.families))
	c.mu.RUnlock()
	for _, f := range fams {
		f.collect(ch)
	}
}

func (f *sdkFamily) collect(ch chan<- prometheus.Metric) {
	f.mu.RLock()
	series := slices.Collect(maps.Values(f.series))
	f.mu.RUnlock()
	if len(series) == 0 {
		return
	}
	names := map[string]bool{}
	for _, s := range series {
		for k := range s.labels {
			names[k] = true
		}
	}
	labelNames := slices.Sorted(maps.Keys(names))
	desc := prometheus.NewDesc(f.name, "Temporal SDK "+f.kind.String()+" "+f.name+".", labelNames, nil)
	for _, s := range series {
		values := make([]string, len(labelNames))
		for i, n := range labelNames {
			values[i] = s.labels[n]
		}
		var m prometheus.Metric
		var err error
		switch f.kind {
		case sdkCounter:
			m, err = prometheus.NewConstMetric(desc, prometheus.CounterValue, float64(s.value.Load()), values...)
		case sdkGauge:
			m, err = prometheus.NewConstMetric(desc, prometheus.GaugeValue, math.Float64frombits(s.value.Load()), values...)
		case sdkTimer:
			s.hmu.Lock()
			cum := make(map[float64]uint64, len(sdkLatencyBuckets))
			var acc uint64
			for i, b := range sdkLatencyBuckets {
				acc += s.buckets[i]
				cum[b] = acc
			}
			count, sum := s.count, s.sum
			s.hmu.Unlock()
			m, err = prometheus.NewConstHistogram(desc, count, sum, cum, values...)
		}
		if err == nil {
			ch <- m
		}
	}
}

// series finds or creates the series of name with the labels of key.
func (c *sdkCollector) series(name string, kind sdkKind, key string, labels map[string]string) *sdkSeries {
	name = promName(name)
	if sfx := kind.suffix(); !strings.HasSuffix(name, sfx) {
		name += sfx // as tally does: a name that has it keeps it
	}
	c.mu.RLock()
	f := c.families[name]
	c.mu.RUnlock()
	if f == nil || f.kind != kind {
		f = c.family(name, kind)
	}
	f.mu.RLock()
	s := f.series[key]
	f.mu.RUnlock()
	if s != nil {
		return s
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if s = f.series[key]; s == nil {
		s = &sdkSeries{labels: labels}
		if kind == sdkTimer {
			s.buckets = make([]uint64, len(sdkLatencyBuckets))
		}
		f.series[key] = s
	}
	return s
}

func (c *sdkCollector) family(name string, kind sdkKind) *sdkFamily {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.families[name]
	if f != nil && f.kind != kind {
		// The suffixes keep the SDK's names of different kinds apart;
		// should two still meet (a gauge named like a counter with its
		// _total), the second gets a name of its own rather than
		// breaking the scrape.
		name += "_" + kind.String()
		f = c.families[name]
	}
	if f == nil {
		f = &sdkFamily{name: name, kind: kind, series: map[string]*sdkSeries{}}
		c.families[name] = f
	}
	return f
}

// sdkHandler is a client.MetricsHandler: the collector and the tags set so
// far, with their canonical key computed once.
type sdkHandler struct {
	c      *sdkCollector
	labels map[string]string
	key    string
}

func (h sdkHandler) WithTags(tags map[string]string) client.MetricsHandler {
	labels := maps.Clone(h.labels)
	if labels == nil {
		labels = make(map[string]string, len(tags))
	}
	for k, v := range tags {
		k = promName(k)
		if v == "" || k == "le" {
			delete(labels, k)
			continue
		}
		labels[k] = v
	}
	return sdkHandler{c: h.c, labels: labels, key: labelKey(labels)}
}

func (h sdkHandler) Counter(name string) client.MetricsCounter {
	return sdkCounterOf{h.c.series(name, sdkCounter, h.key, h.labels)}
}

func (h sdkHandler) Gauge(name string) client.MetricsGauge {
	return sdkGaugeOf{h.c.series(name, sdkGauge, h.key, h.labels)}
}

func (h sdkHandler) Timer(name string) client.MetricsTimer {
	return sdkTimerOf{h.c.series(name, sdkTimer, h.key, h.labels)}
}

type sdkCounterOf struct{ s *sdkSeries }

func (c sdkCounterOf) Inc(d int64) {
	if d > 0 {
		c.s.value.Add(uint64(d))
	}
}

type sdkGaugeOf struct{ s *sdkSeries }

func (g sdkGaugeOf) Update(v float64) { g.s.value.Store(math.Float64bits(v)) }

type sdkTimerOf struct{ s *sdkSeries }

func (t sdkTimerOf) Record(d time.Duration) {
	sec := d.Seconds()
	i, _ := slices.BinarySearch(sdkLatencyBuckets, sec)
	t.s.hmu.Lock()
	if i < len(t.s.buckets) {
		t.s.buckets[i]++
	}
	t.s.count++
	t.s.sum += sec
	t.s.hmu.Unlock()
}

// labelKey is a canonical string of a label set: sorted name=value pairs.
func labelKey(labels map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(labels[k])
		b.WriteByte(0)
	}
	return b.String()
}

// promName makes a metric or label name of the SDK a valid Prometheus
// name: anything but letters, digits and _ becomes _ (the SDK's names are
// valid already; a tag added by a plugin may not be).
func promName(s string) string {
	valid := func(i int, r rune) bool {
		return r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9'
	}
	ok := s != ""
	for i, r := range s {
		if !valid(i, r) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	b := []rune(s)
	for i, r := range b {
		if !valid(i, r) {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}
