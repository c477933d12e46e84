package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// day is a morning in the future of t0; windows are set in whole and
// fractional seconds so that the overlap checks exercise how each database
// compares times.
var day = time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)

func at(h, m int) time.Time {
	return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
}

func changeCase(num, seq int64) Case {
	c := testCase(fmt.Sprintf("CHG-%06d", num), num, seq)
	c.Kind, c.Title = "changes", fmt.Sprintf("Change %d", num)
	return c
}

// schedule projects a change at seq 1 with the given window.
func schedule(t *testing.T, s *Store, num int64, status string, start, end time.Time, cis ...string) {
	t.Helper()
	c := changeCase(num, 1)
	c.Status = status
	err := s.Project(ctxT(t), Projection{Case: c, Entry: entry(c.ID, 1, "schedule", "approved", status),
		Schedule: &ScheduledChange{Title: c.Title, Type: "normal", Status: status, Start: start, End: end,
			CIs: cis, Services: []string{"mail"}}})
	if err != nil {
		t.Fatal(err)
	}
}

func scheduledIDs(t *testing.T, s *Store, from, to time.Time) []string {
	t.Helper()
	got, err := s.ChangeSchedule(ctxT(t), from, to)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, sc := range got {
		ids = append(ids, sc.ChangeID)
	}
	return ids
}

func TestScheduleProjection(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		project := func(seq int64, start time.Time, status string) error {
			c := changeCase(1, seq)
			c.Status = status
			return s.Project(ctx, Projection{Case: c, Entry: entry(c.ID, seq, "schedule", "", status),
				Schedule: &ScheduledChange{Title: "Upgrade mail", Type: "normal", Status: status,
					Start: start, End: start.Add(2 * time.Hour), CIs: []string{"app", "db"}, Seq: 999}})
		}
		if err := project(2, at(10, 0), "scheduled"); err != nil {
			t.Fatal(err)
		}
		// A retried older transition does not move the window back...
		if err := project(1, at(8, 0), "approved"); err != nil {
			t.Fatal(err)
		}
		got, err := s.ChangeSchedule(ctx, day, day.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		want := ScheduledChange{ChangeID: "CHG-000001", Title: "Upgrade mail", Type: "normal", Status: "scheduled",
			Start: at(10, 0), End: at(12, 0), CIs: []string{"app", "db"}, Services: []string{}, Seq: 2}
		if len(got) != 1 || !scheduledEqual(got[0], want) {
			t.Fatalf("schedule %+v, want %+v", got, want)
		}
		// ...a newer one does.
		if err := project(3, at(14, 0).In(time.FixedZone("JST", 9*3600)), "implementing"); err != nil {
			t.Fatal(err)
		}
		got, _ = s.ChangeSchedule(ctx, day, day.Add(24*time.Hour))
		want.Start, want.End, want.Status, want.Seq = at(14, 0), at(16, 0), "implementing", 3
		if len(got) != 1 || !scheduledEqual(got[0], want) {
			t.Fatalf("schedule after seq 3: %+v, want %+v", got, want)
		}

		// The schedule belongs to the projected change, and is a window.
		c := changeCase(2, 1)
		for name, sc := range map[string]ScheduledChange{
			"other change": {ChangeID: "CHG-000001", Start: at(9, 0), End: at(10, 0)},
			"no start":     {End: at(10, 0)},
			"end first":    {Start: at(10, 0), End: at(9, 0)},
			"empty":        {Start: at(10, 0), End: at(10, 0)},
		} {
			if err := s.Project(ctx, Projection{Case: c, Schedule: &sc}); err == nil {
				t.Errorf("%s: projected", name)
			}
		}
		if _, err := s.GetCase(ctx, c.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("a refused projection wrote the case: %v", err)
		}
	})
}

func scheduledEqual(a, b ScheduledChange) bool {
	return a.ChangeID == b.ChangeID && a.Title == b.Title && a.Type == b.Type && a.Status == b.Status &&
		a.Start.Equal(b.Start) && a.End.Equal(b.End) && a.Start.Location() == time.UTC &&
		a.End.Location() == time.UTC && slices.Equal(a.CIs, b.CIs) && slices.Equal(a.Services, b.Services) &&
		a.Seq == b.Seq
}

func TestChangeScheduleOverlap(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		half := 500 * time.Millisecond
		schedule(t, s, 1, "scheduled", at(9, 0), at(10, 0))            // A
		schedule(t, s, 2, "scheduled", at(10, 0), at(11, 0))           // B
		schedule(t, s, 3, "closed", at(8, 0), at(12, 0))               // C: every status is listed
		schedule(t, s, 4, "scheduled", at(12, 0).Add(half), at(13, 0)) // D: fractional start
		for _, c := range []struct {
			from, to time.Time
			want     []string
		}{
			// A ends where the query starts: not overlapping.
			{at(10, 0), at(10, 30), []string{"CHG-000003", "CHG-000002"}},
			// A starts where the query ends: not overlapping.
			{at(7, 0), at(9, 0), []string{"CHG-000003"}},
			{at(9, 59), at(10, 1), []string{"CHG-000003", "CHG-000001", "CHG-000002"}},
			{at(12, 0), at(12, 0).Add(half), []string{}},
			{at(12, 0), at(12, 0).Add(half + time.Millisecond), []string{"CHG-000004"}},
			{at(13, 0), at(14, 0), []string{}},
			{at(12, 59), at(14, 0), []string{"CHG-000004"}},
			{day, day.Add(24 * time.Hour), []string{"CHG-000003", "CHG-000001", "CHG-000002", "CHG-000004"}},
		} {
			if got := scheduledIDs(t, s, c.from, c.to); !slices.Equal(got, c.want) {
				t.Errorf("[%s, %s): %v, want %v", c.from.Format("15:04:05.000"), c.to.Format("15:04:05.000"), got, c.want)
			}
		}
	})
}

func TestScheduleConflicts(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		// app depends on db, web on app, batch on web, db on batch; app
		// runs on vm, part of cluster.
		cmdbFixture(t, s)
		if _, err := s.RegisterCI(ctx, testCI("report", "application", dep("printer")), "config", t0); err != nil {
			t.Fatal(err)
		}
		active := []string{"approved", "scheduled"}
		schedule(t, s, 1, "scheduled", at(10, 0), at(12, 0), "vm")       // the change being checked
		schedule(t, s, 2, "scheduled", at(11, 0), at(13, 0), "vm")       // same CI
		schedule(t, s, 3, "approved", at(9, 0), at(10, 30), "app")       // app runs on vm
		schedule(t, s, 4, "scheduled", at(10, 30), at(11, 0), "cluster") // vm is part of cluster
		schedule(t, s, 5, "scheduled", at(12, 0), at(13, 0), "vm")       // starts when ours ends
		schedule(t, s, 6, "closed", at(10, 0), at(12, 0), "vm")          // not active
		schedule(t, s, 7, "scheduled", at(10, 0), at(12, 0), "printer", "report")
		schedule(t, s, 8, "scheduled", at(10, 0), at(12, 0), "web") // web depends on app, which runs on vm
		schedule(t, s, 9, "scheduled", at(8, 0), at(10, 0), "vm")   // ends when ours starts
		// Several links: the same CI wins over a dependency.
		schedule(t, s, 10, "scheduled", at(11, 30), at(11, 45), "web", "vm")

		got, err := s.ScheduleConflicts(ctx, "CHG-000001", at(10, 0), at(12, 0), []string{"vm"}, active)
		if err != nil {
			t.Fatal(err)
		}
		want := []Conflict{
			{ChangeID: "CHG-000003", CI: "app", Reason: "app depends on vm"},
			{ChangeID: "CHG-000008", CI: "web", Reason: "web depends on vm through app"},
			{ChangeID: "CHG-000004", CI: "cluster", Reason: "vm depends on cluster"},
			{ChangeID: "CHG-000002", CI: "vm", Reason: "same CI"},
			{ChangeID: "CHG-000010", CI: "vm", Reason: "same CI"},
		}
		checkConflicts(t, s, got, want)

		// Seen from the application: its dependents and its dependencies,
		// through the cycle (app depends on db depends on batch depends
		// on web depends on app).
		got, err = s.ScheduleConflicts(ctx, "CHG-000003", at(9, 0), at(10, 45), []string{"app"}, active)
		if err != nil {
			t.Fatal(err)
		}
		want = []Conflict{
			{ChangeID: "CHG-000009", CI: "vm", Reason: "app depends on vm"},
			{ChangeID: "CHG-000001", CI: "vm", Reason: "app depends on vm"},
			{ChangeID: "CHG-000008", CI: "web", Reason: "web depends on app"},
			{ChangeID: "CHG-000004", CI: "cluster", Reason: "app depends on cluster through vm"},
		}
		checkConflicts(t, s, got, want)

		// Long ways are spelled out from the dependent side; round the
		// cycle, the shorter way names the link (batch depends on web
		// directly, and web on batch through app and db).
		got, err = s.ScheduleConflicts(ctx, "CHG-000099", at(10, 30), at(11, 0), []string{"batch"}, active)
		if err != nil {
			t.Fatal(err)
		}
		want = []Conflict{
			{ChangeID: "CHG-000001", CI: "vm", Reason: "batch depends on vm through web, app"},
			{ChangeID: "CHG-000008", CI: "web", Reason: "batch depends on web"},
			{ChangeID: "CHG-000004", CI: "cluster", Reason: "batch depends on cluster through web, app, vm"},
		}
		checkConflicts(t, s, got, want)
		got, err = s.ScheduleConflicts(ctx, "CHG-000099", at(10, 30), at(11, 0), []string{"db"}, active)
		if err != nil {
			t.Fatal(err)
		}
		want = []Conflict{
			{ChangeID: "CHG-000001", CI: "vm", Reason: "db depends on vm through batch, web, app"},
			{ChangeID: "CHG-000008", CI: "web", Reason: "web depends on db through app"},
			{ChangeID: "CHG-000004", CI: "cluster", Reason: "db depends on cluster through batch, web, app, vm"},
		}
		checkConflicts(t, s, got, want)

		// Nothing related in the window, or nothing active.
		if got, err := s.ScheduleConflicts(ctx, "CHG-000099", at(14, 0), at(15, 0), []string{"vm"}, active); err != nil || len(got) != 0 {
			t.Errorf("outside every window: %+v %v", got, err)
		}
		if got, err := s.ScheduleConflicts(ctx, "CHG-000099", at(10, 0), at(12, 0), []string{"vm"}, []string{"implementing"}); err != nil || len(got) != 0 {
			t.Errorf("no change in an active status: %+v %v", got, err)
		}
		if got, err := s.ScheduleConflicts(ctx, "CHG-000099", at(10, 0), at(12, 0), []string{"ghost"}, active); err != nil || len(got) != 0 {
			t.Errorf("unrelated CI: %+v %v", got, err)
		}
		// No status filter: the closed change conflicts too.
		got, err = s.ScheduleConflicts(ctx, "CHG-000099", at(11, 50), at(12, 0), []string{"vm"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range got {
			ids = append(ids, c.ChangeID)
		}
		if !slices.Equal(ids, []string{"CHG-000001", "CHG-000006", "CHG-000008", "CHG-000002"}) {
			t.Errorf("without a status filter: %v", ids)
		}
	})
}

func checkConflicts(t *testing.T, s *Store, got, want []Conflict) {
	t.Helper()
	all, err := s.ChangeSchedule(ctxT(t), day, day.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]ScheduledChange{}
	for _, sc := range all {
		byID[sc.ChangeID] = sc
	}
	var g, w []string
	for _, c := range got {
		g = append(g, fmt.Sprintf("%s %s %s..%s %s: %s", c.ChangeID, c.Title, c.Start.Format("15:04"), c.End.Format("15:04"), c.CI, c.Reason))
	}
	for _, c := range want {
		sc := byID[c.ChangeID]
		w = append(w, fmt.Sprintf("%s %s %s..%s %s: %s", c.ChangeID, sc.Title, sc.Start.Format("15:04"), sc.End.Format("15:04"), c.CI, c.Reason))
	}
	if !slices.Equal(g, w) {
		t.Errorf("conflicts\n got %s\nwant %s", strings.Join(g, "\n     "), strings.Join(w, "\n     "))
	}
}
