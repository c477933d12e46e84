package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/kanri-itsm/kanri/engine"
	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/store"
)

// The engine scenario's workflow and task queue, apart from Kanri's own.
const (
	engineQueue  = "bench-engine"
	noopWorkflow = "bench.Noop"
)

// noop is the least a workflow can be: one workflow task that completes
// it. Its rate is the engine's own limit, which no Kanri case can beat.
func noop(workflow.Context) error { return nil }

// engine starts n trivial workflows from c callers on the embedded engine
// and waits for each to complete.
func (r *runner) engine(ctx context.Context, sz size) ([]Result, error) {
	in, err := r.start(ctx, policy.Default())
	if err != nil {
		return nil, err
	}
	defer in.close()
	// The same pollers as Kanri's own worker, so that the baseline differs
	// from intake only in what a case does.
	w := worker.New(in.app.Temporal(), engineQueue, worker.Options{MaxConcurrentWorkflowTaskPollers: engine.DefaultWorkflowPollers})
	w.RegisterWorkflowWithOptions(noop, workflow.RegisterOptions{Name: noopWorkflow})
	if err := w.Start(); err != nil {
		return nil, fmt.Errorf("start the %s worker: %w", engineQueue, err)
	}
	defer w.Stop()

	c := in.app.Temporal()
	startAll := func(eager bool) sample {
		prefix := "bench-engine-queued"
		if eager {
			prefix = "bench-engine"
		}
		return hammer(ctx, sz.n, sz.c, func(ctx context.Context, i int) error {
			run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
				ID: fmt.Sprintf("%s-%06d", prefix, i), TaskQueue: engineQueue, EnableEagerStart: eager,
			}, noopWorkflow)
			if err != nil {
				return fmt.Errorf("start workflow %d: %w", i, err)
			}
			if err := run.Get(ctx, nil); err != nil {
				return fmt.Errorf("workflow %d: %w", i, err)
			}
			return nil
		})
	}
	// Eagerly, as Kanri opens a case: the start's answer carries the first
	// workflow task to this process's worker, skipping the task queue.
	s := startAll(true)
	res := s.result(Engine, sz.c)
	res.Notes = "empty workflows, eager start to completion"
	in.measure(&res)
	if err := s.failed("workflows"); err != nil {
		return []Result{res}, err
	}
	// The same through the task queue, as a start from a process without
	// a worker goes: what eager start saves.
	qs := startAll(false)
	queued := qs.result(Engine+"/queued", sz.c)
	queued.Notes = "the same, the first task through the task queue"
	in.measure(&queued)
	return []Result{res, queued}, qs.failed("queued workflows")
}

// target is the Kanri an HTTP scenario drives: a fresh in-process one, or
// the one at the URL of the options.
type target struct {
	api *apiClient
	in  *instance // nil at a URL
}

func (r *runner) target(ctx context.Context, cfg *policy.Config, conns int) (*target, error) {
	if r.o.URL != "" {
		if r.o.Token == "" {
			return nil, errors.New("a Kanri at a URL needs a bearer token")
		}
		return &target{api: newAPIClient(r.o.URL, r.o.Token, conns)}, nil
	}
	in, err := r.start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &target{api: newAPIClient(in.baseURL(), benchToken, conns), in: in}, nil
}

func (t *target) close() {
	t.api.close()
	if t.in != nil {
		t.in.close()
	}
}

// measure records memory and disk when the Kanri runs in this process;
// another process's are not ours to read.
func (t *target) measure(r *Result) {
	if t.in != nil {
		t.in.measure(r)
	}
}

// incident is the i-th incident a scenario opens. Impact and urgency cycle
// through the matrix so that priorities spread as on a service desk; with
// the default targets no SLA timer comes due during a run.
func (r *runner) incident(i int) newIncident {
	cells := [...][2]string{
		{"medium", "medium"}, {"low", "medium"}, {"medium", "low"}, {"low", "low"},
		{"high", "medium"}, {"medium", "high"}, {"low", "high"}, {"high", "high"},
	}
	c := cells[i%len(cells)]
	return newIncident{
		Title:       fmt.Sprintf("Bench %d: outgoing mail stays in the outbox", i),
		Description: "Since this morning several users report that mail they send stays in the outbox.",
		Service:     r.o.Service, Impact: c[0], Urgency: c[1],
	}
}

// intake opens n incidents through the API from c clients, then reads each
// back by id. The two phases are timed apart, so that the open rate is not
// diluted by the reads.
func (r *runner) intake(ctx context.Context, sz size) ([]Result, error) {
	t, err := r.target(ctx, policy.Default(), sz.c)
	if err != nil {
		return nil, err
	}
	defer t.close()

	ids := make([]string, sz.n)
	opened := hammer(ctx, sz.n, sz.c, func(ctx context.Context, i int) error {
		rec, err := t.api.openIncident(ctx, r.incident(i))
		ids[i] = rec.ID
		return err
	})
	open := opened.result(Intake, sz.c)
	open.Notes = "POST, answered once projected"
	if err := opened.failed("openings"); err != nil {
		t.measure(&open)
		return []Result{open}, err
	}

	ids = slices.DeleteFunc(ids, func(id string) bool { return id == "" })
	r.progressf("%s: reading back %d incidents", Intake, len(ids))
	read := hammer(ctx, len(ids), sz.c, func(ctx context.Context, i int) error {
		rec, err := t.api.getIncident(ctx, ids[i])
		if err == nil && rec.ID != ids[i] {
			err = fmt.Errorf("GET %s answered the record of %q", ids[i], rec.ID)
		}
		return err
	})
	back := read.result(Intake+"/read", sz.c)
	back.Notes = "GET by id of each opened incident"
	t.measure(&open)
	back.RSSBytes, back.DBBytes = open.RSSBytes, open.DBBytes
	return []Result{open, back}, read.failed("read-backs")
}

// timers opens n P1 incidents as fast as c clients can, on a configuration
// whose P1 response target is short, and measures how late each one's
// first escalation (its sla_breach entry) comes after its due time.
//
// The target (unless set) is 10 ms per incident, at least 20 s: longer
// than the openings take, so that the timers fire on an engine that has
// finished opening them, and their due times spread only over the time
// the openings took, which the notes report. Measured this way, timers
// are not charged for the intake flood that set them up.
func (r *runner) timers(ctx context.Context, sz size) ([]Result, error) {
	due := r.o.TimerTarget
	if due <= 0 {
		due = max(20*time.Second, time.Duration(sz.n)*10*time.Millisecond)
	}
	cfg := policy.Default()
	// A long resolution target keeps the early warning and the resolution
	// breach out of the run: only the response escalations fire.
	cfg.SLA.Targets["P1"] = policy.Target{Response: policy.Duration(due), Resolution: policy.Duration(max(time.Hour, 4*due))}
	in, err := r.start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer in.close()
	api := newAPIClient(in.baseURL(), benchToken, sz.c)
	defer api.close()

	opened := hammer(ctx, sz.n, sz.c, func(ctx context.Context, i int) error {
		inc := r.incident(i)
		inc.Impact, inc.Urgency = "high", "high"
		_, err := api.openIncident(ctx, inc)
		return err
	})
	res := opened.result(Timers, sz.c)
	if err := opened.failed("openings"); err != nil {
		in.measure(&res)
		return []Result{res}, err
	}
	want := opened.succeeded()
	// Every timer is due within one target of the last opening. Polling
	// only after that keeps the benchmark's own reads off the engine while
	// the timers fire.
	lastDue := time.Now().Add(due)
	r.progressf("%s: %d escalations come due by %s", Timers, want, lastDue.Format(time.TimeOnly))
	late, span, err := awaitBreaches(ctx, in.app.Store(), want, lastDue, lastDue.Add(timerGrace))
	if err != nil {
		in.measure(&res)
		return []Result{res}, err
	}
	fired := len(late)
	res.withLatencies(late)
	res.Fired = &fired
	res.Errors += want - fired
	if fired < want && res.FirstError == "" {
		res.FirstError = fmt.Sprintf("%d of %d SLA timers had not fired %s after the last came due", want-fired, want, timerGrace)
	}
	res.Notes = fmt.Sprintf("fired %d/%d; due within %.1fs of each other; latency = lateness; rate = opens/s; P1 response %s",
		fired, sz.n, span.Seconds(), due)
	in.measure(&res)
	if fired == 0 {
		return []Result{res}, errors.New("no SLA timer fired")
	}
	return []Result{res}, nil
}

// timerGrace is how long after the last due time the timers scenario waits
// for stragglers before it counts them as not fired.
const timerGrace = time.Minute

// awaitBreaches waits until from, then polls the case table until want
// incidents are breached or the deadline passes, and returns how late
// each breached incident's first sla_breach entry came after its response
// due time, and the time between the first and the last due time.
func awaitBreaches(ctx context.Context, st *store.Store, want int, from, deadline time.Time) ([]time.Duration, time.Duration, error) {
	wait := time.Until(from)
	for {
		select {
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-time.After(wait):
		}
		rows, err := breachedIncidents(ctx, st)
		if err != nil {
			return nil, 0, err
		}
		if len(rows) >= want || time.Now().After(deadline) {
			return lateness(ctx, st, rows)
		}
		wait = time.Second
	}
}

// breachedIncidents lists every incident whose SLA is breached.
func breachedIncidents(ctx context.Context, st *store.Store) ([]store.Case, error) {
	yes := true
	q := store.ListQuery{Kind: "incidents", Breached: &yes, Limit: 200}
	var all []store.Case
	for {
		page, next, err := st.ListCases(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("list breached incidents: %w", err)
		}
		all = append(all, page...)
		if next == "" {
			return all, nil
		}
		q.Cursor = next
	}
}

// lateness is, for each incident, the time of its first sla_breach entry
// less the response due time its record shows; and the span from the
// first due time to the last.
func lateness(ctx context.Context, st *store.Store, rows []store.Case) ([]time.Duration, time.Duration, error) {
	out := make([]time.Duration, 0, len(rows))
	var first, last time.Time
	for _, c := range rows {
		var rec struct {
			SLA struct {
				ResponseDue time.Time `json:"response_due"`
			} `json:"sla"`
		}
		if err := json.Unmarshal(c.Record, &rec); err != nil {
			return nil, 0, fmt.Errorf("record of %s: %w", c.ID, err)
		}
		entries, err := st.History(ctx, c.ID)
		if err != nil {
			return nil, 0, err
		}
		i := slices.IndexFunc(entries, func(e store.HistoryEntry) bool { return e.Action == "sla_breach" })
		if i < 0 {
			continue // breached by another clock: not a response escalation
		}
		d := rec.SLA.ResponseDue
		out = append(out, entries[i].At.Sub(d))
		if first.IsZero() || d.Before(first) {
			first = d
		}
		if d.After(last) {
			last = d
		}
	}
	return out, last.Sub(first), nil
}

// density measures what n open incidents add to the process's resident
// memory and to the data directory, per incident.
func (r *runner) density(ctx context.Context, sz size) ([]Result, error) {
	in, err := r.start(ctx, policy.Default())
	if err != nil {
		return nil, err
	}
	defer in.close()
	api := newAPIClient(in.baseURL(), benchToken, sz.c)
	defer api.close()
	open := func(offset int) func(context.Context, int) error {
		return func(ctx context.Context, i int) error {
			_, err := api.openIncident(ctx, r.incident(offset+i))
			return err
		}
	}

	// A few openings first, so that what the first request sets up
	// (connection pools, caches, lazily built code paths) is not charged
	// to the incidents measured.
	const warmup = 20
	if err := hammer(ctx, warmup, 1, open(0)).failed("warm-up openings"); err != nil {
		return nil, err
	}
	before, err := r.settledFootprint(ctx, in)
	if err != nil {
		return nil, err
	}
	opened := hammer(ctx, sz.n, sz.c, open(warmup))
	res := opened.result(Density, sz.c)
	if err := opened.failed("openings"); err != nil {
		in.measure(&res)
		return []Result{res}, err
	}
	r.progressf("%s: settling for %s before reading memory", Density, r.o.Settle)
	after, err := r.settledFootprint(ctx, in)
	if err != nil {
		return []Result{res}, err
	}
	if r.o.HeapProfile != "" {
		if err := writeHeapProfile(r.o.HeapProfile); err != nil {
			return []Result{res}, err
		}
	}
	k := int64(opened.succeeded())
	per := Footprint{
		RSS: (after.RSS - before.RSS) / k, DB: (after.DB - before.DB) / k,
		AppDB: (after.AppDB - before.AppDB) / k, EngineDB: (after.EngineDB - before.EngineDB) / k,
		Stacks: (after.Stacks - before.Stacks) / k, Heap: (after.Heap - before.Heap) / k,
	}
	res.PerCase = &per
	res.RSSBytes, res.DBBytes = after.RSS, after.DB
	res.Notes = fmt.Sprintf("per open incident: rss %s (goroutine stacks %s, heap %s), db %s (app %s, engine %s); rate = opens/s",
		kib(per.RSS), kib(per.Stacks), kib(per.Heap), kib(per.DB), kib(per.AppDB), kib(per.EngineDB))
	return []Result{res}, nil
}

func kib(b int64) string { return fmt.Sprintf("%.1f KB", float64(b)/1024) }

// listFilters are the list requests the list scenario cycles through:
// the queues people keep open (open work, a group's, an agent's, breaches)
// and reports' slices (priority and service, major incidents).
func listFilters() []string {
	return []string{
		"status=logged,assigned,in_progress,pending",
		"status=logged&priority=P1",
		"priority=P2&service=email",
		"group=second-line&status=in_progress,pending",
		"assignee=bob&status=assigned,in_progress",
		"breached=true&status=logged,assigned,in_progress,pending",
		"major=true",
		"service=vpn&limit=200",
	}
}

// list times filtered list requests with n cases in the store. In process
// it fills the store first; at a URL it lists the cases already there.
func (r *runner) list(ctx context.Context, sz size) ([]Result, error) {
	cfg := policy.Default()
	t, err := r.target(ctx, cfg, sz.c)
	if err != nil {
		return nil, err
	}
	defer t.close()

	var filled fillReport
	n, requests := sz.n, r.o.ListRequests
	if t.in != nil {
		if filled, err = r.fill(ctx, t, cfg, n); err != nil {
			return nil, err
		}
	} else {
		// A running Kanri's cases are not ours to add to: n counts the
		// requests instead.
		if r.o.N > 0 {
			requests = r.o.N
		}
		n = requests
		filled.notes = "n = requests, over the cases already there"
	}

	filters := listFilters()
	r.progressf("%s: timing %d list requests over %d filters", List, requests, len(filters))
	s := hammer(ctx, requests, sz.c, func(ctx context.Context, i int) error {
		_, err := t.api.listIncidents(ctx, filters[i%len(filters)])
		return err
	})
	res := s.result(List, sz.c)
	res.N = n
	res.Errors += filled.errors
	if res.FirstError == "" && filled.firstErr != nil {
		res.FirstError = filled.firstErr.Error()
	}
	slowest, p99 := slowestFilter(s, filters)
	res.Notes = joinNotes(filled.notes, fmt.Sprintf("%d requests; slowest p99 %s: %s", requests, ms(p99), slowest))
	t.measure(&res)
	return []Result{res}, s.failed("list requests")
}

// slowestFilter names the filter with the highest p99.
func slowestFilter(s sample, filters []string) (string, time.Duration) {
	var (
		name  string
		worst time.Duration
	)
	for f, q := range filters {
		var r Result
		r.withLatencies(s.latencies(func(i int) bool { return i%len(filters) == f }))
		if r.P99 >= worst {
			name, worst = q, r.P99
		}
	}
	return name, worst
}

// writeHeapProfile writes the process's heap profile to path, and its
// goroutines to path.goroutine: goroutine stacks (each cached workflow's
// coroutines) are resident memory the heap profile does not show.
func writeHeapProfile(path string) error {
	for _, p := range []struct{ name, file string }{{"heap", path}, {"goroutine", path + ".goroutine"}} {
		f, err := os.Create(p.file)
		if err != nil {
			return fmt.Errorf("%s profile: %w", p.name, err)
		}
		if err := pprof.Lookup(p.name).WriteTo(f, 0); err != nil {
			f.Close()
			return fmt.Errorf("%s profile %s: %w", p.name, p.file, err)
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}
