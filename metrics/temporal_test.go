package metrics

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

func family(t *testing.T, m *Metrics, name string) *dto.MetricFamily {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return f
		}
	}
	return nil
}

func labels(mt *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range mt.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// The SDK reports one name with different tag sets; the scrape must still
// succeed, each family with one set of label names.
func TestTemporalHandlerUnionOfLabels(t *testing.T) {
	m := New()
	h := m.Temporal().WithTags(map[string]string{"namespace": "default"})
	h.Counter("temporal_request").Inc(2)
	h.WithTags(map[string]string{"operation": "StartWorkflowExecution"}).Counter("temporal_request").Inc(3)
	h.WithTags(map[string]string{"operation": "StartWorkflowExecution"}).Counter("temporal_request").Inc(1)
	// A later tag overrides an earlier one; an empty value removes it.
	h.WithTags(map[string]string{"namespace": "kanri", "operation": ""}).Counter("temporal_request").Inc(5)

	f := family(t, m, "temporal_request_total")
	if f == nil || f.GetType() != dto.MetricType_COUNTER {
		t.Fatalf("temporal_request_total: %v", f)
	}
	got := map[string]float64{}
	for _, mt := range f.GetMetric() {
		l := labels(mt)
		if len(l) != 2 {
			t.Errorf("series %v lacks the family's label names", l)
		}
		got[l["namespace"]+"/"+l["operation"]] = mt.GetCounter().GetValue()
	}
	want := map[string]float64{"default/": 2, "default/StartWorkflowExecution": 4, "kanri/": 5}
	if len(got) != len(want) {
		t.Fatalf("series %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

func TestTemporalHandlerKinds(t *testing.T) {
	m := New()
	h := m.Temporal().WithTags(map[string]string{"task_queue": "kanri", "worker-type": "WorkflowWorker"})
	h.Gauge("temporal_worker_task_slots_available").Update(7)
	h.Gauge("temporal_worker_task_slots_available").Update(5)
	timer := h.Timer("temporal_workflow_task_schedule_to_start_latency")
	for _, d := range []time.Duration{500 * time.Microsecond, 20 * time.Millisecond, 20 * time.Millisecond, 2 * time.Hour} {
		timer.Record(d)
	}

	g := family(t, m, "temporal_worker_task_slots_available")
	if g == nil || g.GetType() != dto.MetricType_GAUGE || g.GetMetric()[0].GetGauge().GetValue() != 5 {
		t.Fatalf("gauge: %v", g)
	}
	if l := labels(g.GetMetric()[0]); l["worker_type"] != "WorkflowWorker" || l["task_queue"] != "kanri" {
		t.Errorf("a tag that is no Prometheus label name is made one: %v", l)
	}
	hf := family(t, m, "temporal_workflow_task_schedule_to_start_latency_seconds")
	if hf == nil || hf.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("timer: %v", hf)
	}
	hist := hf.GetMetric()[0].GetHistogram()
	if hist.GetSampleCount() != 4 || hist.GetSampleSum() < 7200 {
		t.Errorf("count %d sum %v", hist.GetSampleCount(), hist.GetSampleSum())
	}
	cum := map[float64]uint64{}
	for _, b := range hist.GetBucket() {
		cum[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	if cum[0.001] != 1 || cum[0.025] != 3 || cum[600] != 3 {
		t.Errorf("buckets %v: want 1 by 1 ms, 3 by 25 ms, the 2 h one beyond the last", cum)
	}

	// The exposition is what Prometheus scrapes.
	var buf bytes.Buffer
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if _, err := expfmt.MetricFamilyToText(&buf, f); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{
		`temporal_workflow_task_schedule_to_start_latency_seconds_bucket{task_queue="kanri",worker_type="WorkflowWorker",le="0.025"} 3`,
		`temporal_workflow_task_schedule_to_start_latency_seconds_count{task_queue="kanri",worker_type="WorkflowWorker"} 4`,
		"go_goroutines", // Kanri's registry, not one of its own
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("exposition lacks %s", want)
		}
	}
}

// The workers report from many goroutines while Prometheus scrapes.
func TestTemporalHandlerConcurrent(t *testing.T) {
	m := New()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			h := m.Temporal().WithTags(map[string]string{"worker": string(rune('a' + i%2))})
			for range 500 {
				h.Counter("temporal_request").Inc(1)
				h.Timer("temporal_request_latency").Record(time.Millisecond)
				h.Gauge("temporal_sticky_cache_size").Update(1)
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if _, err := m.Registry.Gather(); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	var total float64
	for _, mt := range family(t, m, "temporal_request_total").GetMetric() {
		total += mt.GetCounter().GetValue()
	}
	if total != 8*500 {
		t.Errorf("counted %v, want %d", total, 8*500)
	}
}

// Should a name come as two kinds, the second gets a name of its own
// instead of breaking every scrape.
func TestTemporalHandlerKindClash(t *testing.T) {
	m := New()
	m.Temporal().Counter("temporal_x").Inc(1)
	m.Temporal().Gauge("temporal_x_total").Update(2)
	if family(t, m, "temporal_x_total") == nil || family(t, m, "temporal_x_total_gauge") == nil {
		t.Error("both kinds must be scraped")
	}
}
