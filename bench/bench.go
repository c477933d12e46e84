// Package bench measures a Kanri: how many trivial workflows the embedded
// engine completes per second (the baseline), how fast incidents are opened
// and read back through the API, how soon a change approval shows, how late
// SLA timers fire, how much memory and disk an open incident costs, how
// fast filtered lists answer with many cases in the store, and how fast
// mail in an IMAP mailbox becomes incidents.
//
// Each scenario runs on a fresh in-process Kanri in a temporary directory,
// so that one scenario's cases never weigh on the next. The scenarios that
// use only HTTP (intake, list) can instead drive a running Kanri at a URL.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Scenario names.
const (
	Engine  = "engine"
	Intake  = "intake"
	Timers  = "timers"
	Density = "density"
	List    = "list"
	All     = "all"
)

// Errors that mean the request itself was wrong, not the system measured.
var (
	ErrUnknownScenario = errors.New("unknown scenario")
	ErrNotBuilt        = errors.New("not built yet")
	ErrNeedsEngine     = errors.New("needs an in-process engine")
)

// Options tune a run. Zero values take each scenario's defaults.
type Options struct {
	// N is how many operations a scenario performs; for list it is how
	// many cases the store holds while the list requests are timed (at a
	// URL, whose cases are left as they are: how many requests).
	N int
	// Concurrency is how many callers run at once.
	Concurrency int

	// URL and Token target a running Kanri instead of a fresh in-process
	// one; only the HTTP scenarios (intake, list) can run that way.
	URL   string
	Token string
	// Service is the service the benchmark's incidents name; it must be
	// in the target's service catalogue (default "email", which the
	// built-in configuration has).
	Service string

	// Logger receives the log of the in-process Kanri; nil discards it.
	Logger *slog.Logger
	// Progress receives one line as each phase begins, so that a person
	// watching a ten-minute run knows where it is; nil is quiet.
	Progress io.Writer

	// TimerTarget is the P1 response target of the timers scenario
	// (default 10 ms per incident, at least 20s: longer than the openings
	// take, so that the timers fire after them).
	TimerTarget time.Duration
	// ListRequests is how many list requests the list scenario times
	// (default 1000).
	ListRequests int
	// Settle is how long density lets the engine go idle before it reads
	// the resident memory (default 3s).
	Settle time.Duration
	// DuplicateEvery makes every DuplicateEvery-th mail of the email
	// scenario a re-delivery of the one before, with the same Message-ID
	// (default 10; negative: none).
	DuplicateEvery int
	// WorkflowCache sizes the instance's workflow cache (0: kanri dev's,
	// app.DevWorkflowCache), to weigh memory per open case against replays.
	WorkflowCache int
	// HeapProfile, when set, is where density writes a heap profile of the
	// process while its incidents are open: where the memory per case goes
	// (go tool pprof -sample_index=inuse_space).
	HeapProfile string
}

// Result is one row of the report.
type Result struct {
	Scenario    string
	N           int
	Concurrency int
	Rate        float64 // operations completed per second
	P50         time.Duration
	P95         time.Duration
	P99         time.Duration
	RSSBytes    int64 // resident memory of this process at the end; 0: not measured
	DBBytes     int64 // the data directory's files at the end; 0: not measured
	Errors      int
	Notes       string
	FirstError  string

	// Fired is how many SLA timers fired (timers only).
	Fired *int
	// PerCase is the memory and disk one open incident costs (density only).
	PerCase *Footprint
	// OfEngine is the rate as a percentage of the engine scenario's rate
	// measured in the same run (intake, in a run of all).
	OfEngine *float64
}

// Footprint is resident memory and database bytes.
type Footprint struct {
	RSS      int64 `json:"rss_bytes"`
	DB       int64 `json:"db_bytes"`
	AppDB    int64 `json:"app_db_bytes"`    // kanri.db and its journal
	EngineDB int64 `json:"engine_db_bytes"` // temporal.db, temporal-visibility.db and their journals
	// Of the resident memory, what the Go runtime holds for goroutine
	// stacks (each cached workflow's coroutines) and for live heap spans.
	Stacks int64 `json:"stack_bytes"`
	Heap   int64 `json:"heap_bytes"`
}

// size is how big a scenario runs.
type size struct{ n, c int }

// scenario is one measurement.
type scenario struct {
	name string
	// def is sized so that `all` finishes in under ten minutes on two cores.
	def size
	// httpOnly scenarios can drive a Kanri at a URL.
	httpOnly bool
	run      func(*runner, context.Context, size) ([]Result, error)
}

func scenarios() []scenario {
	return []scenario{
		{Engine, size{2000, 32}, false, (*runner).engine},
		{Intake, size{2000, 32}, true, (*runner).intake},
		{Approve, size{500, 32}, false, (*runner).approve},
		// The targets' own sizes: 10,000 timers, 10,000 open incidents.
		{Timers, size{10_000, 32}, false, (*runner).timers},
		{Density, size{10_000, 32}, false, (*runner).density},
		// Few callers: list latency is what one person waits, not a queue.
		{List, size{100_000, 4}, true, (*runner).list},
		// One appender: the mailbox is read by one poller anyway.
		{Email, size{500, 1}, false, (*runner).email},
	}
}

// Run runs a scenario, or every scenario in turn for "all", and returns
// its results. Errors inside a scenario are counted in its results; Run
// fails a scenario only when every operation failed. With "all" a failed
// scenario does not stop the others: the results so far come back with the
// joined errors.
func Run(ctx context.Context, name string, o Options) ([]Result, error) {
	r := newRunner(o)
	if name == All {
		return r.all(ctx)
	}
	i := slices.IndexFunc(scenarios(), func(s scenario) bool { return s.name == name })
	if i < 0 {
		return nil, fmt.Errorf("%w %q: choose one of %s", ErrUnknownScenario, name, strings.Join(Names(), ", "))
	}
	s := scenarios()[i]
	if r.o.URL != "" && !s.httpOnly {
		return nil, fmt.Errorf("the %s scenario %w, so it cannot run against --url (only intake and list can)",
			name, ErrNeedsEngine)
	}
	return r.scenario(ctx, s)
}

// Names lists the scenarios Run accepts.
func Names() []string {
	var names []string
	for _, s := range scenarios() {
		names = append(names, s.name)
	}
	return append(names, All)
}

func (r *runner) scenario(ctx context.Context, s scenario) ([]Result, error) {
	sz := r.size(s.def)
	// Give the memory of the previous scenario's Kanri back to the
	// system, so that it does not count in this one's resident memory.
	debug.FreeOSMemory()
	r.progressf("%s: n=%d concurrency=%d", s.name, sz.n, sz.c)
	res, err := s.run(r, ctx, sz)
	if err != nil {
		return res, fmt.Errorf("%s: %w", s.name, err)
	}
	return res, nil
}

// all runs every scenario that can run on the target, engine first, so
// that intake's rate can be read against the engine's.
func (r *runner) all(ctx context.Context) ([]Result, error) {
	var (
		results []Result
		errs    []error
	)
	for _, s := range scenarios() {
		if r.o.URL != "" && !s.httpOnly {
			r.progressf("%s: skipped, it %s", s.name, ErrNeedsEngine)
			continue
		}
		res, err := r.scenario(ctx, s)
		results = append(results, res...)
		if err != nil {
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	compareWithEngine(results)
	return results, errors.Join(errs...)
}

// compareWithEngine states intake's rate as a share of the engine's: the
// engine's rate is the ceiling every other figure is read against.
func compareWithEngine(results []Result) {
	e := slices.IndexFunc(results, func(r Result) bool { return r.Scenario == Engine })
	if e < 0 || results[e].Rate <= 0 {
		return
	}
	for i := range results {
		if results[i].Scenario != Intake {
			continue
		}
		pct := 100 * results[i].Rate / results[e].Rate
		results[i].OfEngine = &pct
		results[i].Notes = joinNotes(fmt.Sprintf("%.0f%% of engine's rate", pct), results[i].Notes)
	}
}

func joinNotes(notes ...string) string {
	return strings.Join(slices.DeleteFunc(notes, func(s string) bool { return s == "" }), "; ")
}

// percentile returns the nearest-rank p-th percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100+0.999999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// withLatencies sets the percentiles of ds (in any order) on r.
func (r *Result) withLatencies(ds []time.Duration) {
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	r.P50, r.P95, r.P99 = percentile(sorted, 50), percentile(sorted, 95), percentile(sorted, 99)
}

// WriteTable prints the results for a person, with the first error of each
// scenario that had errors under the table.
func WriteTable(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tn\tconcurrency\trate/s\tp50\tp95\tp99\trss MB\tdb MB\terrors\tnotes")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n",
			r.Scenario, r.N, r.Concurrency, r.Rate, ms(r.P50), ms(r.P95), ms(r.P99),
			mb(r.RSSBytes), mb(r.DBBytes), r.Errors, r.Notes)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		if r.FirstError != "" {
			if _, err := fmt.Fprintf(w, "%s: first error: %s\n", r.Scenario, r.FirstError); err != nil {
				return err
			}
		}
	}
	return nil
}

// ms renders a latency in milliseconds, the unit every column shares.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}

func mb(b int64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(b)/(1<<20))
}

// jsonResult is a Result in machine units: milliseconds and bytes; null
// where nothing was measured.
type jsonResult struct {
	Scenario    string     `json:"scenario"`
	N           int        `json:"n"`
	Concurrency int        `json:"concurrency"`
	Rate        float64    `json:"rate_per_s"`
	P50         float64    `json:"p50_ms"`
	P95         float64    `json:"p95_ms"`
	P99         float64    `json:"p99_ms"`
	RSS         *int64     `json:"rss_bytes"`
	DB          *int64     `json:"db_bytes"`
	Errors      int        `json:"errors"`
	Notes       string     `json:"notes"`
	FirstError  string     `json:"first_error,omitempty"`
	Fired       *int       `json:"fired,omitempty"`
	PerCase     *Footprint `json:"per_case,omitempty"`
	OfEngine    *float64   `json:"of_engine_pct,omitempty"`
}

// WriteJSON prints the results as a JSON array.
func WriteJSON(w io.Writer, results []Result) error {
	out := make([]jsonResult, 0, len(results))
	for _, r := range results {
		out = append(out, jsonResult{
			Scenario: r.Scenario, N: r.N, Concurrency: r.Concurrency, Rate: r.Rate,
			P50: millis(r.P50), P95: millis(r.P95), P99: millis(r.P99),
			RSS: measured(r.RSSBytes), DB: measured(r.DBBytes), Errors: r.Errors, Notes: r.Notes,
			FirstError: r.FirstError, Fired: r.Fired, PerCase: r.PerCase, OfEngine: r.OfEngine,
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func measured(b int64) *int64 {
	if b == 0 {
		return nil
	}
	return &b
}
