package store

import (
	"context"
	"testing"
	"time"
)

// A watch of a case wakes on that case's next projection, not on another
// case's, and a stopped watch is forgotten.
func TestWatchWakesOnTheCasesProjection(t *testing.T) {
	s := openTestSQLite(t)
	ctx := context.Background()
	project := func(id string, num int64) {
		t.Helper()
		now := time.Now()
		if err := s.Project(ctx, Projection{Case: Case{ID: id, Kind: "incidents", Num: num, Title: "t", Status: "new",
			CreatedAt: now, UpdatedAt: now, Seq: 1, Record: []byte(`{}`)}}); err != nil {
			t.Fatal(err)
		}
	}
	mine, stopMine := s.Watch("INC-000001")
	defer stopMine()
	_, stopGone := s.Watch("INC-000001")
	stopGone()
	s.watch.mu.Lock()
	if n := len(s.watch.m["INC-000001"]); n != 1 {
		t.Errorf("%d watches of INC-000001 after one of two stopped, want 1", n)
	}
	s.watch.mu.Unlock()

	project("INC-000002", 2)
	select {
	case <-mine:
		t.Fatal("another case's projection woke the watch")
	default:
	}
	project("INC-000001", 1)
	select {
	case <-mine:
	default:
		t.Fatal("the case's projection did not wake its watch")
	}
	s.watch.mu.Lock()
	defer s.watch.mu.Unlock()
	if n := len(s.watch.m); n != 0 {
		t.Fatalf("%d watches left behind", n)
	}
}
