package store

import "sync"

// watchers wakes the callers waiting for a case's next projection. The
// API opens a case with an eager start and waits here, instead of through
// an update, for the opening to reach the database: in the same process the
// projection itself tells it, without a poll. The zero value is ready.
type watchers struct {
	mu sync.Mutex
	m  map[string][]chan struct{}
}

// Watch returns a channel that is closed once a projection of case id has
// committed through this Store after the call, and a function that stops
// the watch (call it when done, whether or not the channel closed). A
// projection written by another process is not seen: the caller reads the
// database too.
func (s *Store) Watch(id string) (<-chan struct{}, func()) {
	w := &s.watch
	ch := make(chan struct{})
	w.mu.Lock()
	if w.m == nil {
		w.m = make(map[string][]chan struct{})
	}
	w.m[id] = append(w.m[id], ch)
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		chs := w.m[id]
		for i, c := range chs {
			if c == ch {
				chs = append(chs[:i], chs[i+1:]...)
				break
			}
		}
		if len(chs) == 0 {
			delete(w.m, id)
		} else {
			w.m[id] = chs
		}
	}
}

// projected wakes the watchers of case id.
func (w *watchers) projected(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ch := range w.m[id] {
		close(ch)
	}
	delete(w.m, id)
}
