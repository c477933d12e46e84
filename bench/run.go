package bench

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// runner runs scenarios with one set of options.
type runner struct {
	o Options
}

func newRunner(o Options) *runner {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Service == "" {
		o.Service = "email"
	}
	if o.ListRequests <= 0 {
		o.ListRequests = 1000
	}
	if o.Settle <= 0 {
		o.Settle = 3 * time.Second
	}
	return &runner{o: o}
}

// size applies the options' N and concurrency over a scenario's defaults.
func (r *runner) size(def size) size {
	if r.o.N > 0 {
		def.n = r.o.N
	}
	if r.o.Concurrency > 0 {
		def.c = r.o.Concurrency
	}
	return def
}

func (r *runner) progressf(format string, args ...any) {
	if r.o.Progress != nil {
		fmt.Fprintf(r.o.Progress, "bench: "+format+"\n", args...)
	}
}

// sample is what n timed operations yielded.
type sample struct {
	n        int
	lat      []time.Duration // by operation; meaningful where ok
	ok       []bool
	errors   int
	firstErr error
	elapsed  time.Duration
}

// hammer calls op for every i in [0, n) from c goroutines and times each
// call. A failed call is counted, not fatal: the run goes on, so that one
// bad answer does not hide the rate of the rest. It stops early only when
// ctx ends.
func hammer(ctx context.Context, n, c int, op func(ctx context.Context, i int) error) sample {
	s := sample{n: n, lat: make([]time.Duration, n), ok: make([]bool, n)}
	var (
		next  atomic.Int64
		first sync.Once
		wg    sync.WaitGroup
	)
	start := time.Now()
	for range max(1, min(c, n)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t0 := time.Now()
				err := op(ctx, i)
				s.lat[i] = time.Since(t0)
				if err != nil {
					first.Do(func() { s.firstErr = err })
					continue
				}
				s.ok[i] = true
			}
		})
	}
	wg.Wait()
	s.elapsed = time.Since(start)
	// Operations that never ran because ctx ended count as failed too.
	s.errors = n - s.succeeded()
	if s.firstErr == nil && s.errors > 0 {
		s.firstErr = ctx.Err()
	}
	return s
}

func (s sample) succeeded() int {
	k := 0
	for _, ok := range s.ok {
		if ok {
			k++
		}
	}
	return k
}

// latencies returns the latencies of the successful operations that keep
// selects (every one when keep is nil).
func (s sample) latencies(keep func(i int) bool) []time.Duration {
	var out []time.Duration
	for i, ok := range s.ok {
		if ok && (keep == nil || keep(i)) {
			out = append(out, s.lat[i])
		}
	}
	return out
}

func (s sample) rate() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(s.succeeded()) / s.elapsed.Seconds()
}

// result turns the sample into a report row.
func (s sample) result(scenario string, c int) Result {
	r := Result{Scenario: scenario, N: s.n, Concurrency: c, Rate: s.rate(), Errors: s.errors}
	r.withLatencies(s.latencies(nil))
	if s.firstErr != nil {
		r.FirstError = s.firstErr.Error()
	}
	return r
}

// failed reports a sample in which every operation failed: then there is
// nothing to measure, and the scenario fails.
func (s sample) failed(what string) error {
	if s.n > 0 && s.succeeded() == 0 {
		return fmt.Errorf("every one of %d %s failed; the first: %w", s.n, what, s.firstErr)
	}
	return nil
}
