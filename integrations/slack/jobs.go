package slack

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"
)

// jobs runs the work that follows an acknowledgement: at most cap(slots)
// at once, each under a deadline, none after close. A request that finds
// every slot taken is told Kanri is busy rather than queued behind the
// others, so no acknowledgement ever waits for work.
type jobs struct {
	log     *slog.Logger
	slots   chan struct{}
	timeout time.Duration
	base    context.Context
	cancel  context.CancelFunc

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func newJobs(log *slog.Logger, limit int, timeout time.Duration) *jobs {
	ctx, cancel := context.WithCancel(context.Background())
	return &jobs{log: log, slots: make(chan struct{}, limit), timeout: timeout, base: ctx, cancel: cancel}
}

// start runs fn in its own goroutine if a slot is free, and reports
// whether it did.
func (j *jobs) start(name string, fn func(ctx context.Context)) bool {
	t, ok := j.reserve()
	if ok {
		t.run(name, fn)
	}
	return ok
}

// ticket is a reserved slot: run it or release it.
type ticket struct{ j *jobs }

// reserve takes a slot without starting anything, for a caller that has
// one more check to make before it commits to the work.
func (j *jobs) reserve() (ticket, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ticket{}, false
	}
	select {
	case j.slots <- struct{}{}:
	default:
		return ticket{}, false
	}
	// Add under the lock, so that close never waits on a group that is
	// still growing.
	j.wg.Add(1)
	return ticket{j}, true
}

func (t ticket) release() {
	<-t.j.slots
	t.j.wg.Done()
}

func (t ticket) run(name string, fn func(ctx context.Context)) {
	j := t.j
	go func() {
		defer func() {
			if r := recover(); r != nil {
				j.log.Error("slack: job panicked", "job", name, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			}
			t.release()
		}()
		ctx, cancel := context.WithTimeout(j.base, j.timeout)
		defer cancel()
		fn(ctx)
	}()
}

// close refuses new jobs and waits for the running ones; when ctx ends
// first, it cancels them and waits for them to return.
func (j *jobs) close(ctx context.Context) error {
	j.mu.Lock()
	j.closed = true
	j.mu.Unlock()
	done := make(chan struct{})
	go func() {
		j.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		j.cancel()
		return nil
	case <-ctx.Done():
		j.cancel()
		<-done
		return ctx.Err()
	}
}

// keyedMutex serialises work on one key (a case id), so that two clicks on
// the same case do not update its messages from records read out of order.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}
