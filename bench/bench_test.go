package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/workflows"
)

// TestScenarios runs every scenario on a real embedded engine with tiny
// sizes and checks that the results are sane. It asserts nothing about
// speed: speed is what the benchmark measures, never what a test expects.
func TestScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole Kanri for each scenario")
	}
	for _, c := range []struct {
		scenario string
		n        int
		rows     []string
	}{
		{Engine, 20, []string{Engine, Engine + "/queued"}},
		{Intake, 20, []string{Intake, Intake + "/read"}},
		{Density, 10, []string{Density}},
		{List, 2000, []string{List}},
		{Timers, 10, []string{Timers}},
	} {
		t.Run(c.scenario, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			results, err := Run(ctx, c.scenario, Options{
				N: c.n, Concurrency: 4, TimerTarget: 2 * time.Second, ListRequests: 40, Settle: 500 * time.Millisecond,
			})
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if len(results) != len(c.rows) {
				t.Fatalf("%d results, want %d: %+v", len(results), len(c.rows), results)
			}
			for i, r := range results {
				if r.Scenario != c.rows[i] {
					t.Errorf("row %d is %q, want %q", i, r.Scenario, c.rows[i])
				}
				checkSane(t, r, c.n)
			}
			checkSpecific(t, results[0], c.n)
		})
	}
}

func checkSane(t *testing.T, r Result, n int) {
	t.Helper()
	if r.N != n || r.Concurrency != 4 {
		t.Errorf("%s: n=%d concurrency=%d, want %d and 4", r.Scenario, r.N, r.Concurrency, n)
	}
	if r.Errors != 0 || r.FirstError != "" {
		t.Errorf("%s: %d errors, the first: %s", r.Scenario, r.Errors, r.FirstError)
	}
	if r.Rate <= 0 {
		t.Errorf("%s: rate %f", r.Scenario, r.Rate)
	}
	if !(r.P50 <= r.P95 && r.P95 <= r.P99) {
		t.Errorf("%s: percentiles out of order: %s %s %s", r.Scenario, r.P50, r.P95, r.P99)
	}
	if r.RSSBytes <= 0 || r.DBBytes <= 0 {
		t.Errorf("%s: rss %d bytes, database %d bytes", r.Scenario, r.RSSBytes, r.DBBytes)
	}
}

func checkSpecific(t *testing.T, r Result, n int) {
	t.Helper()
	switch r.Scenario {
	case Timers:
		if r.Fired == nil || *r.Fired != n {
			t.Errorf("timers: fired %v, want %d", r.Fired, n)
		}
		// A timer fires at its due time or after it, never before.
		if r.P50 < 0 {
			t.Errorf("timers: p50 lateness %s", r.P50)
		}
	case Density:
		if r.PerCase == nil {
			t.Error("density: no per-case footprint")
		}
	case List:
		if r.P99 <= 0 {
			t.Errorf("list: p99 %s", r.P99)
		}
	}
}

func TestRequestsThatCannotRun(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		scenario string
		opts     Options
		want     error
		says     string
	}{
		{"stress", Options{}, ErrUnknownScenario, "engine, intake, approve, timers, density, list, email, all"},
		{Engine, Options{URL: "http://127.0.0.1:1", Token: "x"}, ErrNeedsEngine, "--url"},
		{Timers, Options{URL: "http://127.0.0.1:1", Token: "x"}, ErrNeedsEngine, "--url"},
	} {
		t.Run(c.scenario, func(t *testing.T) {
			_, err := Run(ctx, c.scenario, c.opts)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("err = %v, want %v saying %q", err, c.want, c.says)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{50: 50 * time.Millisecond, 95: 95 * time.Millisecond, 99: 99 * time.Millisecond, 100: 100 * time.Millisecond} {
		if got := percentile(ds, p); got != want {
			t.Errorf("p%v = %s, want %s", p, got, want)
		}
	}
	if got := percentile(ds[:1], 99); got != time.Millisecond {
		t.Errorf("p99 of one = %s", got)
	}
	if got := percentile(nil, 99); got != 0 {
		t.Errorf("p99 of none = %s", got)
	}
}

func TestHammerCountsErrors(t *testing.T) {
	s := hammer(context.Background(), 10, 3, func(_ context.Context, i int) error {
		if i%5 == 0 {
			return fmt.Errorf("operation %d failed", i)
		}
		return nil
	})
	if s.succeeded() != 8 || s.errors != 2 || s.firstErr == nil {
		t.Fatalf("succeeded %d, errors %d, first %v", s.succeeded(), s.errors, s.firstErr)
	}
	if s.failed("operations") != nil {
		t.Fatal("a partly failed sample failed the scenario")
	}
	none := hammer(context.Background(), 3, 2, func(context.Context, int) error { return errors.New("down") })
	if err := none.failed("operations"); err == nil || !strings.Contains(err.Error(), "down") {
		t.Fatalf("every operation failed, yet: %v", err)
	}
}

func TestIntakeAgainstEngine(t *testing.T) {
	results := []Result{{Scenario: Engine, Rate: 200}, {Scenario: Intake, Rate: 50, Notes: "POST"}, {Scenario: List, Rate: 900}}
	compareWithEngine(results)
	if results[1].OfEngine == nil || *results[1].OfEngine != 25 || results[1].Notes != "25% of engine's rate; POST" {
		t.Fatalf("intake: %+v", results[1])
	}
	if results[2].OfEngine != nil {
		t.Fatalf("list compared with the engine: %+v", results[2])
	}
}

func TestPrinters(t *testing.T) {
	fired := 3
	results := []Result{
		{Scenario: Timers, N: 3, Concurrency: 2, Rate: 12.5, P50: 1500 * time.Microsecond, P95: 2 * time.Millisecond,
			P99: 3 * time.Millisecond, RSSBytes: 200 << 20, DBBytes: 5 << 20, Fired: &fired, Notes: "fired 3/3"},
		{Scenario: List, N: 100, Concurrency: 1, Rate: 1, Errors: 1, FirstError: "GET: status 500"},
	}
	var table bytes.Buffer
	if err := WriteTable(&table, results); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"scenario", "rate/s", "rss MB", "timers", "1.5ms", "200.0", "fired 3/3", "list: first error: GET: status 500"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}

	var out bytes.Buffer
	if err := WriteJSON(&out, results); err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	if rows[0]["p50_ms"] != 1.5 || rows[0]["rss_bytes"] != float64(200<<20) || rows[0]["fired"] != 3.0 {
		t.Errorf("timers row in machine units: %v", rows[0])
	}
	if v, ok := rows[1]["rss_bytes"]; !ok || v != nil {
		t.Errorf("an unmeasured rss is %v, want null", v)
	}
	if _, ok := rows[1]["fired"]; ok {
		t.Errorf("list row has a fired count: %v", rows[1])
	}
}

// TestSyntheticIncident checks that a filled row says what its record says:
// lists filter on the columns and answer with the record.
func TestSyntheticIncident(t *testing.T) {
	cfg := policy.Default()
	now := time.Now().UTC()
	for i := range 200 {
		p := syntheticIncident(cfg, fmt.Sprintf("INC-%06d", i+1), int64(i+1), i, now)
		var rec workflows.Incident
		if err := json.Unmarshal(p.Case.Record, &rec); err != nil {
			t.Fatal(err)
		}
		c := p.Case
		if rec.ID != c.ID || rec.Status != c.Status || rec.Priority != c.Priority || rec.Group != c.Group ||
			rec.Assignee != c.Assignee || rec.Service != c.Service || rec.Major != c.Major ||
			(len(rec.SLA.Breached) > 0) != c.Breached || rec.Caller != c.Caller {
			t.Fatalf("row %+v does not match its record %+v", c, rec)
		}
		if rec.Priority == "" || rec.CreatedAt.After(now) || (rec.Status == workflows.StatusClosed) != (rec.ClosedAt != nil) {
			t.Fatalf("implausible record: %+v", rec)
		}
		if p.Entry == nil || p.Entry.Seq != c.Seq {
			t.Fatalf("history entry %+v for a row at seq %d", p.Entry, c.Seq)
		}
	}
}
