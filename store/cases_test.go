package store

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 123456000, time.UTC)

func testCase(id string, num, seq int64) Case {
	return Case{
		ID: id, Kind: "incidents", Num: num, Title: "Mail is down", Status: "logged", Priority: "P2",
		Service: "email", Group: "service-desk", CreatedBy: "alice", Caller: "carol",
		CreatedAt: t0, UpdatedAt: t0.Add(time.Duration(seq) * time.Minute), Seq: seq,
		Record: []byte(fmt.Sprintf(`{"id":%q,"seq":%d}`, id, seq)),
	}
}

func entry(caseID string, seq int64, action, from, to string) *HistoryEntry {
	return &HistoryEntry{
		CaseID: caseID, Seq: seq, At: t0.Add(time.Duration(seq) * time.Minute), Actor: "alice",
		Action: action, From: from, To: to, Detail: []byte(`{"n":` + fmt.Sprint(seq) + `}`),
	}
}

func TestNextIDConcurrentAndPersistent(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		const workers, each = 8, 50
		var (
			mu   sync.Mutex
			ids  = map[string]bool{}
			nums []int64
			wg   sync.WaitGroup
			errs = make(chan error, workers*each)
		)
		for range workers {
			wg.Go(func() {
				for range each {
					id, n, err := s.NextID(ctx, "incidents", "INC")
					if err != nil {
						errs <- err
						return
					}
					if id != fmt.Sprintf("INC-%06d", n) {
						errs <- fmt.Errorf("id %s for num %d", id, n)
					}
					mu.Lock()
					ids[id] = true
					nums = append(nums, n)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(ids) != workers*each {
			t.Fatalf("%d distinct ids, want %d", len(ids), workers*each)
		}
		slices.Sort(nums)
		for i, n := range nums {
			if n != int64(i+1) {
				t.Fatalf("nums not contiguous: position %d holds %d", i, n)
			}
		}

		// Another kind has its own sequence.
		if id, _, err := s.NextID(ctx, "changes", "CHG"); err != nil || id != "CHG-000001" {
			t.Fatalf("first change id %q, %v", id, err)
		}

		s = reopen(t, s)
		id, n, err := s.NextID(ctx, "incidents", "INC")
		if err != nil {
			t.Fatal(err)
		}
		if id != "INC-000401" || n != 401 {
			t.Errorf("after reopen: %s %d, want INC-000401", id, n)
		}
	})
}

func TestNextIDGrowsPastSixDigits(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		if err := s.db.Exec(`INSERT INTO sequences (kind, last) VALUES ('incidents', 999999)`).Error; err != nil {
			t.Fatal(err)
		}
		id, n, err := s.NextID(ctx, "incidents", "INC")
		if err != nil || id != "INC-1000000" || n != 1000000 {
			t.Errorf("got %q %d %v, want INC-1000000", id, n, err)
		}
	})
}

func TestProjectIdempotent(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		c := testCase("INC-000001", 1, 1)
		c.Major = true
		p := Projection{
			Case:  c,
			Entry: entry(c.ID, 1, "open", "", "logged"),
			Notifications: []Notification{{
				Recipient: "mona", Channel: "email", Event: "major_declared",
				Subject: "Major incident INC-000001", Body: "Mail is down",
			}},
		}
		for range 2 {
			if err := s.Project(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.GetCase(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !casesEqual(got, c) {
			t.Errorf("case round trip:\n got %+v\nwant %+v", got, c)
		}
		h, err := s.History(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 1 {
			t.Fatalf("%d history rows, want 1", len(h))
		}
		want := *p.Entry
		if h[0].CaseID != want.CaseID || h[0].Seq != 1 || !h[0].At.Equal(want.At) || h[0].At.Location() != time.UTC ||
			h[0].Actor != "alice" || h[0].Action != "open" || h[0].From != "" || h[0].To != "logged" ||
			string(h[0].Detail) != `{"n":1}` {
			t.Errorf("history entry %+v, want %+v", h[0], want)
		}
		ns, err := s.Notifications(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ns) != 1 {
			t.Fatalf("%d notifications, want 1", len(ns))
		}
		n := ns[0]
		if n.ID == 0 || n.CaseID != c.ID || n.Seq != 1 || n.Recipient != "mona" || n.Channel != "email" ||
			n.Event != "major_declared" || n.Subject != "Major incident INC-000001" || n.SentAt != nil ||
			!n.CreatedAt.Equal(want.At) {
			t.Errorf("notification %+v", n)
		}

		// The same notification on another channel is another message.
		p.Notifications = append(p.Notifications, Notification{Recipient: "mona", Channel: "slack", Event: "major_declared"})
		if err := s.Project(ctx, p); err != nil {
			t.Fatal(err)
		}
		if ns, _ := s.Notifications(ctx, c.ID); len(ns) != 2 {
			t.Errorf("%d notifications, want 2", len(ns))
		}
	})
}

func casesEqual(a, b Case) bool {
	return a.ID == b.ID && a.Kind == b.Kind && a.Num == b.Num && a.Title == b.Title && a.Status == b.Status &&
		a.Priority == b.Priority && a.Service == b.Service && a.Assignee == b.Assignee && a.Group == b.Group &&
		a.Major == b.Major && a.Breached == b.Breached && a.CreatedBy == b.CreatedBy && a.Caller == b.Caller &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt) &&
		a.CreatedAt.Location() == time.UTC && a.UpdatedAt.Location() == time.UTC &&
		a.Seq == b.Seq && string(a.Record) == string(b.Record)
}

func TestProjectOutOfOrder(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		c3 := testCase("INC-000001", 1, 3)
		c3.Status, c3.Assignee = "in_progress", "bob"
		c2 := testCase("INC-000001", 1, 2)
		c2.Status, c2.Assignee = "assigned", "bob"

		if err := s.Project(ctx, Projection{Case: c3, Entry: entry(c3.ID, 3, "start", "assigned", "in_progress")}); err != nil {
			t.Fatal(err)
		}
		if err := s.Project(ctx, Projection{Case: c2, Entry: entry(c2.ID, 2, "assign", "logged", "assigned")}); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetCase(ctx, c3.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !casesEqual(got, c3) {
			t.Errorf("a late seq 2 overwrote seq 3:\n got %+v\nwant %+v", got, c3)
		}
		h, err := s.History(ctx, c3.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 2 || h[0].Seq != 2 || h[1].Seq != 3 {
			t.Errorf("history %+v, want seq 2 then 3", h)
		}

		// A newer transition does overwrite.
		c4 := testCase("INC-000001", 1, 4)
		c4.Status = "resolved"
		if err := s.Project(ctx, Projection{Case: c4, Entry: entry(c4.ID, 4, "resolve", "in_progress", "resolved")}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetCase(ctx, c4.ID); !casesEqual(got, c4) {
			t.Errorf("seq 4 not applied: %+v", got)
		}
	})
}

func TestGetCaseNotFound(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		if _, err := s.GetCase(ctxT(t), "INC-999999"); !errors.Is(err, ErrNotFound) {
			t.Errorf("err %v, want ErrNotFound", err)
		}
	})
}

func TestHistoryOrderAndEmptyDetail(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		for _, seq := range []int64{5, 1, 3, 2, 4} {
			c := testCase("INC-000001", 1, seq)
			e := entry(c.ID, seq, "comment", "logged", "logged")
			if seq == 2 {
				e.Detail = nil
			}
			if err := s.Project(ctx, Projection{Case: c, Entry: e}); err != nil {
				t.Fatal(err)
			}
		}
		h, err := s.History(ctx, "INC-000001")
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range h {
			if e.Seq != int64(i+1) {
				t.Fatalf("history out of order: %v", h)
			}
		}
		if string(h[1].Detail) != "{}" {
			t.Errorf("empty detail read back as %q, want {}", h[1].Detail)
		}
		if h, err := s.History(ctx, "INC-000404"); err != nil || len(h) != 0 {
			t.Errorf("history of an unknown case: %v %v", h, err)
		}
	})
}

func TestProjectConcurrent(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		const workers, each = 16, 25
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					id, num, err := s.NextID(ctx, "incidents", "INC")
					if err != nil {
						errs <- err
						return
					}
					c := testCase(id, num, 1)
					p := Projection{Case: c, Entry: entry(id, 1, "open", "", "logged"),
						Notifications: []Notification{{Recipient: "mona", Channel: "email", Event: "opened"}}}
					if err := s.Project(ctx, p); err != nil {
						errs <- err
						return
					}
					// Everyone also hammers one shared case, readers in between.
					shared := testCase("INC-SHARED", 0, int64(w*each+i+1))
					if err := s.Project(ctx, Projection{Case: shared, Entry: entry(shared.ID, shared.Seq, "comment", "", "")}); err != nil {
						errs <- err
						return
					}
					if _, _, err := s.ListCases(ctx, ListQuery{Kind: "incidents", Limit: 10}); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n, err := s.CountCases(ctx, "incidents"); err != nil || n != workers*each+1 {
			t.Errorf("%d cases (%v), want %d", n, err, workers*each+1)
		}
		shared, err := s.GetCase(ctx, "INC-SHARED")
		if err != nil || shared.Seq != workers*each {
			t.Errorf("shared case seq %d (%v), want the highest, %d", shared.Seq, err, workers*each)
		}
		if h, _ := s.History(ctx, "INC-SHARED"); len(h) != workers*each {
			t.Errorf("shared history has %d entries, want %d", len(h), workers*each)
		}
	})
}

// Two processes on one SQLite file (kanri dev and kanri migrate, or a
// second dev instance by mistake) each have their own writer connection:
// BEGIN IMMEDIATE and the busy timeout make them take turns, not fail.
func TestProjectTwoStoresOneSQLiteFile(t *testing.T) {
	t.Parallel()
	a := openTestSQLite(t)
	u, _ := testURLs.Load(a)
	b := openURL(t, u.(string))
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for w := range 8 {
		s := []*Store{a, b}[w%2]
		wg.Go(func() {
			for range 25 {
				id, num, err := s.NextID(ctx, "incidents", "INC")
				if err == nil {
					err = s.Project(ctx, Projection{Case: testCase(id, num, 1), Entry: entry(id, 1, "open", "", "logged")})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, _ := a.CountCases(ctx, "incidents"); n != 200 {
		t.Errorf("%d cases, want 200", n)
	}
}

func TestNotificationOutbox(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		c := testCase("INC-000001", 1, 1)
		err := s.Project(ctx, Projection{Case: c, Entry: entry(c.ID, 1, "open", "", "logged"), Notifications: []Notification{
			{Recipient: "mona", Channel: "email", Event: "sla_warning"},
			{Recipient: "U0MONA", Channel: "slack", Event: "sla_warning"},
			{Recipient: "tess", Channel: "email", Event: "sla_warning"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		email, err := s.PendingNotifications(ctx, "email", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(email) != 2 || email[0].Recipient != "mona" || email[1].Recipient != "tess" {
			t.Fatalf("pending email %+v", email)
		}
		if all, _ := s.PendingNotifications(ctx, "", 0); len(all) != 3 {
			t.Errorf("%d pending on all channels, want 3", len(all))
		}
		if err := s.MarkNotificationFailed(ctx, email[0].ID, "smtp: 451 try later"); err != nil {
			t.Fatal(err)
		}
		sentAt := time.Date(2026, 3, 1, 10, 0, 0, 0, time.FixedZone("CET", 3600))
		if err := s.MarkNotificationSent(ctx, email[0].ID, sentAt); err != nil {
			t.Fatal(err)
		}
		// A second mark keeps the first delivery time.
		if err := s.MarkNotificationSent(ctx, email[0].ID, sentAt.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkNotificationSent(ctx, 987654, sentAt); !errors.Is(err, ErrNotFound) {
			t.Errorf("mark unknown: %v, want ErrNotFound", err)
		}
		pending, _ := s.PendingNotifications(ctx, "email", 10)
		if len(pending) != 1 || pending[0].Recipient != "tess" {
			t.Errorf("pending after send %+v", pending)
		}
		ns, _ := s.Notifications(ctx, c.ID)
		sent := ns[0]
		if sent.SentAt == nil || !sent.SentAt.Equal(sentAt) || sent.SentAt.Location() != time.UTC || sent.Attempts != 2 || sent.LastError != "" {
			t.Errorf("sent notification %+v (sent at %v)", sent, sent.SentAt)
		}
	})
}

// listFixture projects 60 incidents and 10 requests with attributes cycling
// independently, and returns them.
func listFixture(t *testing.T, s *Store) []Case {
	t.Helper()
	ctx := ctxT(t)
	statuses := []string{"logged", "assigned", "in_progress", "resolved"}
	people := []string{"alice", "bob", "carol"}
	var all []Case
	for i := 1; i <= 70; i++ {
		kind, prefix, num := "incidents", "INC", int64(i)
		if i > 60 {
			kind, prefix, num = "requests", "REQ", int64(i-60)
		}
		c := Case{
			ID: formatID(prefix, num), Kind: kind, Num: num, Title: fmt.Sprint("case ", i),
			Status:    statuses[i%4],
			Priority:  fmt.Sprint("P", 1+i%3),
			Service:   []string{"email", "vpn"}[i%2],
			Assignee:  people[i%3],
			Group:     []string{"service-desk", "second-line", "third-line", "network", "dba"}[i%5],
			Major:     i%7 == 0,
			Breached:  i%6 == 0,
			CreatedBy: people[(i/3)%3],
			Caller:    people[(i/2)%3],
			CreatedAt: t0.Add(time.Duration(i) * time.Hour), UpdatedAt: t0.Add(time.Duration(i) * time.Hour),
			Seq: 1, Record: []byte(`{}`),
		}
		if err := s.Project(ctx, Projection{Case: c}); err != nil {
			t.Fatal(err)
		}
		all = append(all, c)
	}
	return all
}

// expected filters all by keep and orders it as ListCases must.
func expected(all []Case, keep func(Case) bool) []string {
	var out []Case
	for _, c := range all {
		if keep(c) {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Num != out[j].Num {
			return out[i].Num > out[j].Num
		}
		return out[i].ID > out[j].ID
	})
	ids := make([]string, len(out))
	for i, c := range out {
		ids[i] = c.ID
	}
	return ids
}

// listAll pages through q and returns the ids in order.
func listAll(t *testing.T, s *Store, q ListQuery) []string {
	t.Helper()
	var ids []string
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page > 100 {
			t.Fatal("pagination does not end")
		}
		items, next, err := s.ListCases(ctxT(t), q)
		if err != nil {
			t.Fatal(err)
		}
		if limit := q.Limit; limit > 0 && len(items) > limit {
			t.Fatalf("page of %d, limit %d", len(items), limit)
		}
		for _, c := range items {
			if seen[c.ID] {
				t.Fatalf("%s listed twice", c.ID)
			}
			seen[c.ID] = true
			ids = append(ids, c.ID)
		}
		if next == "" {
			return ids
		}
		if len(items) == 0 {
			t.Fatal("empty page with a next cursor")
		}
		q.Cursor = next
	}
}

func TestListCasesFilters(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		all := listFixture(t, s)
		yes, no := true, false
		inc := func(c Case) bool { return c.Kind == "incidents" }
		cases := []struct {
			name string
			q    ListQuery
			keep func(Case) bool
		}{
			{"kind", ListQuery{Kind: "incidents"}, inc},
			{"other kind", ListQuery{Kind: "requests"}, func(c Case) bool { return c.Kind == "requests" }},
			{"all kinds", ListQuery{}, func(Case) bool { return true }},
			{"status", ListQuery{Kind: "incidents", Statuses: []string{"assigned"}},
				func(c Case) bool { return inc(c) && c.Status == "assigned" }},
			{"statuses", ListQuery{Kind: "incidents", Statuses: []string{"logged", "in_progress"}},
				func(c Case) bool { return inc(c) && (c.Status == "logged" || c.Status == "in_progress") }},
			{"priority", ListQuery{Kind: "incidents", Priority: "P2"},
				func(c Case) bool { return inc(c) && c.Priority == "P2" }},
			{"service", ListQuery{Kind: "incidents", Service: "vpn"},
				func(c Case) bool { return inc(c) && c.Service == "vpn" }},
			{"assignee", ListQuery{Kind: "incidents", Assignee: "bob"},
				func(c Case) bool { return inc(c) && c.Assignee == "bob" }},
			{"group", ListQuery{Kind: "incidents", Group: "network"},
				func(c Case) bool { return inc(c) && c.Group == "network" }},
			{"major", ListQuery{Kind: "incidents", Major: &yes},
				func(c Case) bool { return inc(c) && c.Major }},
			{"not major", ListQuery{Kind: "incidents", Major: &no},
				func(c Case) bool { return inc(c) && !c.Major }},
			{"breached", ListQuery{Kind: "incidents", Breached: &yes},
				func(c Case) bool { return inc(c) && c.Breached }},
			{"raised by", ListQuery{Kind: "incidents", RaisedBy: "bob"},
				func(c Case) bool { return inc(c) && (c.CreatedBy == "bob" || c.Caller == "bob") }},
			{"combined", ListQuery{Kind: "incidents", Statuses: []string{"logged", "resolved"}, Service: "email", RaisedBy: "carol"},
				func(c Case) bool {
					return inc(c) && (c.Status == "logged" || c.Status == "resolved") && c.Service == "email" &&
						(c.CreatedBy == "carol" || c.Caller == "carol")
				}},
			{"statuses with a duplicate", ListQuery{Kind: "incidents", Statuses: []string{"resolved", "logged", "resolved"}, RaisedBy: "alice"},
				func(c Case) bool {
					return inc(c) && (c.Status == "logged" || c.Status == "resolved") && (c.CreatedBy == "alice" || c.Caller == "alice")
				}},
			{"many statuses", ListQuery{Kind: "incidents", Statuses: append(strings.Split("a b c d e f g h i j k l m n o p q", " "), "assigned")},
				func(c Case) bool { return inc(c) && c.Status == "assigned" }},
			{"all kinds raised by", ListQuery{RaisedBy: "carol", Statuses: []string{"logged", "assigned"}},
				func(c Case) bool {
					return (c.Status == "logged" || c.Status == "assigned") && (c.CreatedBy == "carol" || c.Caller == "carol")
				}},
			{"nothing", ListQuery{Kind: "incidents", Assignee: "nobody"}, func(Case) bool { return false }},
		}
		for _, tc := range cases {
			want := expected(all, tc.keep)
			// One big page, and small pages that must add up to it.
			for _, limit := range []int{200, 7, 1} {
				q := tc.q
				q.Limit = limit
				got := listAll(t, s, q)
				if strings.Join(got, ",") != strings.Join(want, ",") {
					t.Errorf("%s (limit %d):\n got %v\nwant %v", tc.name, limit, got, want)
				}
			}
		}
	})
}

func TestListCasesPaging(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		listFixture(t, s)

		items, next, err := s.ListCases(ctx, ListQuery{Kind: "incidents"})
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != 50 || next == "" || items[0].ID != "INC-000060" || items[49].ID != "INC-000011" {
			t.Fatalf("default page: %d items, next %q", len(items), next)
		}
		items, next, err = s.ListCases(ctx, ListQuery{Kind: "incidents", Cursor: next})
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != 10 || next != "" || items[0].ID != "INC-000010" {
			t.Fatalf("last page: %d items, next %q", len(items), next)
		}
		// A page that ends exactly at the last case has no next cursor.
		if _, next, _ := s.ListCases(ctx, ListQuery{Kind: "requests", Limit: 10}); next != "" {
			t.Errorf("exact last page has next cursor %q", next)
		}
		if items, _, _ := s.ListCases(ctx, ListQuery{Kind: "incidents", Limit: 1000}); len(items) != 60 {
			t.Errorf("limit is capped at 200: got %d of 60", len(items))
		}

		// A case created while paging appears on a fresh first page, not as a
		// duplicate or gap in the walk under way.
		first, next, _ := s.ListCases(ctx, ListQuery{Kind: "incidents", Limit: 20})
		c := testCase("INC-000061", 61, 1)
		if err := s.Project(ctx, Projection{Case: c}); err != nil {
			t.Fatal(err)
		}
		second, _, _ := s.ListCases(ctx, ListQuery{Kind: "incidents", Limit: 20, Cursor: next})
		if first[19].Num != 41 || second[0].Num != 40 {
			t.Errorf("walk broke across an insert: page 1 ends %d, page 2 starts %d", first[19].Num, second[0].Num)
		}

		for _, bad := range []string{"!!!", "bm90LWEtY3Vyc29y", cursor{num: 5}.encode(), "YzE6LTE6eA", "YzE6eDpJTkM"} {
			_, _, err := s.ListCases(ctx, ListQuery{Kind: "incidents", Cursor: bad})
			if !errors.Is(err, ErrBadCursor) {
				t.Errorf("cursor %q: %v, want ErrBadCursor", bad, err)
			}
		}
	})
}

func TestCountCases(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		all := listFixture(t, s)
		for _, tc := range []struct {
			kind     string
			statuses []string
		}{
			{"incidents", nil}, {"requests", nil}, {"", nil},
			{"incidents", []string{"logged"}}, {"incidents", []string{"logged", "assigned"}},
		} {
			want := len(expected(all, func(c Case) bool {
				return (tc.kind == "" || c.Kind == tc.kind) && (len(tc.statuses) == 0 || slices.Contains(tc.statuses, c.Status))
			}))
			got, err := s.CountCases(ctx, tc.kind, tc.statuses...)
			if err != nil || got != int64(want) {
				t.Errorf("CountCases(%q, %v) = %d, %v; want %d", tc.kind, tc.statuses, got, err, want)
			}
		}
	})
}
