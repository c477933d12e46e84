package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libtnb/sqlite"
	"gorm.io/gorm"
)

// Throwaway measurements for the store's design choices; run with
//
//	go test ./store/ -run '^$' -bench . -benchtime 2s
//
// (PostgreSQL variants need KANRI_TEST_POSTGRES_URL.)

// openSQLitePoolVariant opens a migrated SQLite file through a plain pool of
// n connections instead of Open's single writer, to compare the two.
func openSQLitePoolVariant(b testing.TB, n int, txlock string) *Store {
	path := filepath.Join(b.TempDir(), "variant.db")
	s := openMigrated(b, path)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	dsn := path + "?_busy_timeout=10000&_timezone=UTC&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=" + txlock
	g, err := gorm.Open(sqlite.Open(dsn), gormConfig())
	if err != nil {
		b.Fatal(err)
	}
	d, _ := g.DB()
	d.SetMaxOpenConns(n)
	d.SetMaxIdleConns(n)
	b.Cleanup(func() { _ = d.Close() })
	return &Store{db: g, rdb: g, dialect: dialectSQLite}
}

var benchRecord = []byte(`{"id":"INC-000000","kind":"incidents","title":"Users cannot send mail from Outlook","description":"` +
	strings.Repeat("Since 09:00 several users report that outgoing mail stays in the outbox. ", 12) +
	`","status":"logged","service":"email","impact":"high","urgency":"medium","priority":"P2","assignee":"","group":"service-desk",` +
	`"escalation_level":0,"major":false,"caller":"carol","sla":{"response_due":"2026-03-01T09:30:00Z","resolution_due":"2026-03-01T17:00:00Z","paused":false,"warned":false,"breached":[]},"links":[]}`)

func BenchmarkProject(b *testing.B) {
	variants := []struct {
		name string
		open func(testing.TB) *Store
	}{
		{"sqlite", openTestSQLite},
		{"sqlite-pool8-immediate", func(tb testing.TB) *Store { return openSQLitePoolVariant(tb, 8, "immediate") }},
		{"sqlite-pool8-deferred", func(tb testing.TB) *Store { return openSQLitePoolVariant(tb, 8, "deferred") }},
		{"postgres", openTestPostgres},
	}
	for _, v := range variants {
		for _, parallel := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/writers=%d", v.name, parallel), func(b *testing.B) {
				s := v.open(b)
				ctx := context.Background()
				var next, failed, busy atomic.Int64
				var firstErr atomic.Value
				project := func() {
					n := next.Add(1)
					id := formatID("INC", n)
					c := testCase(id, n, 1)
					c.Record = benchRecord
					err := s.Project(ctx, Projection{Case: c, Entry: entry(id, 1, "open", "", "logged"),
						Notifications: []Notification{{Recipient: "mona", Channel: "email", Event: "opened", Subject: "New incident " + id}}})
					if err != nil {
						failed.Add(1)
						if strings.Contains(err.Error(), "SQLITE_BUSY") || strings.Contains(err.Error(), "database is locked") {
							busy.Add(1)
						}
						firstErr.CompareAndSwap(nil, err.Error())
					}
				}
				b.ResetTimer()
				start := time.Now()
				if parallel == 1 {
					for b.Loop() {
						project()
					}
				} else {
					b.SetParallelism(max(1, parallel/runtime.GOMAXPROCS(0)))
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							project()
						}
					})
				}
				elapsed := time.Since(start)
				b.ReportMetric(float64(next.Load())/elapsed.Seconds(), "projections/s")
				b.ReportMetric(float64(failed.Load()), "failed")
				b.ReportMetric(float64(busy.Load()), "busy")
				if e := firstErr.Load(); e != nil {
					b.Logf("first error: %s", e)
				}
			})
		}
	}
}

// seedCases bulk-loads n cases with a plausible spread of values: most
// closed, few P1, twenty services, fifty agents, 0.5% major, 5% breached.
func seedCases(b testing.TB, s *Store, n int) {
	rng := rand.New(rand.NewPCG(1, 2))
	const batch = 400
	statuses := []string{"closed", "closed", "closed", "closed", "closed", "closed", "closed", "resolved", "resolved",
		"in_progress", "assigned", "logged", "pending"}
	priorities := []string{"P1", "P2", "P2", "P3", "P3", "P3", "P4", "P4", "P4", "P4"}
	err := s.db.Transaction(func(tx *gorm.DB) error {
		for start := 1; start <= n; start += batch {
			var (
				rows []string
				args []any
			)
			for i := start; i < start+batch && i <= n; i++ {
				kind, prefix, num := "incidents", "INC", int64(i)
				if i%5 == 0 { // a fifth are requests, numbered on their own
					kind, prefix, num = "requests", "REQ", int64(i)
				}
				at := t0.Add(time.Duration(i) * time.Minute)
				status := statuses[rng.IntN(len(statuses))]
				if r := rng.IntN(1000); r < 2 { // two rare statuses, spread over all ages
					status = []string{"awaiting_vendor", "cancelled"}[r]
				}
				rows = append(rows, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
				args = append(args, formatID(prefix, num), kind, num, "case", status,
					priorities[rng.IntN(len(priorities))], fmt.Sprint("svc", rng.IntN(20)), fmt.Sprint("agent", rng.IntN(50)),
					fmt.Sprint("group", rng.IntN(8)), rng.IntN(200) == 0, rng.IntN(20) == 0,
					fmt.Sprint("user", rng.IntN(500)), fmt.Sprint("user", rng.IntN(500)), at, at, int64(3), string(benchRecord))
			}
			if err := tx.Exec(`INSERT INTO cases (`+caseColumns+`) VALUES `+strings.Join(rows, ", "), args...).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if s.dialect == dialectPostgres {
		if err := s.db.Exec(`ANALYZE cases`).Error; err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkListCases100k(b *testing.B) {
	yes := true
	queries := []struct {
		name string
		q    ListQuery
	}{
		{"kind", ListQuery{Kind: "incidents"}},
		{"status", ListQuery{Kind: "incidents", Statuses: []string{"in_progress"}}},
		{"open-statuses", ListQuery{Kind: "incidents", Statuses: []string{"logged", "assigned", "in_progress", "pending"}}},
		{"rare-statuses", ListQuery{Kind: "incidents", Statuses: []string{"awaiting_vendor", "cancelled"}}},
		{"rare-status", ListQuery{Kind: "incidents", Statuses: []string{"cancelled"}}},
		{"priority-P1", ListQuery{Kind: "incidents", Priority: "P1"}},
		{"service", ListQuery{Kind: "incidents", Service: "svc7"}},
		{"assignee", ListQuery{Kind: "incidents", Assignee: "agent7"}},
		{"group", ListQuery{Kind: "incidents", Group: "group3"}},
		{"major", ListQuery{Kind: "incidents", Major: &yes}},
		{"breached", ListQuery{Kind: "incidents", Breached: &yes}},
		{"raised-by", ListQuery{Kind: "incidents", RaisedBy: "user42"}},
		{"open+assignee", ListQuery{Kind: "incidents", Statuses: []string{"logged", "assigned", "in_progress", "pending"}, Assignee: "agent7"}},
		{"closed+assignee-none", ListQuery{Kind: "incidents", Statuses: []string{"closed"}, Assignee: "nobody"}},
		{"P1+service+open", ListQuery{Kind: "incidents", Priority: "P1", Service: "svc3", Statuses: []string{"logged", "assigned", "in_progress", "pending"}}},
		{"five-filters", ListQuery{Kind: "incidents", Statuses: []string{"closed"}, Priority: "P4", Group: "group3", Service: "svc3", Assignee: "agent9"}},
		{"closed+P4+group", ListQuery{Kind: "incidents", Statuses: []string{"closed"}, Priority: "P4", Group: "group3", Breached: &yes}},
		{"limit200", ListQuery{Kind: "incidents", Limit: 200}},
		{"all-kinds", ListQuery{}},
	}
	for _, d := range []struct {
		name string
		open func(testing.TB) *Store
	}{{"sqlite", openTestSQLite}, {"postgres", openTestPostgres}} {
		b.Run(d.name, func(b *testing.B) {
			s := d.open(b)
			start := time.Now()
			seedCases(b, s, 100_000)
			b.Logf("%s: seeded 100,000 cases in %v", d.name, time.Since(start).Round(time.Millisecond))
			// As after any restart: SQLite's Close and Open refresh the
			// planner statistics.
			start = time.Now()
			s = reopen(b, s)
			b.Logf("%s: reopened in %v", d.name, time.Since(start).Round(time.Millisecond))
			ctx := context.Background()
			for _, bq := range queries {
				for _, page := range []string{"first", "deep"} {
					b.Run(bq.name+"/"+page, func(b *testing.B) {
						q := bq.q
						if page == "deep" {
							// Walk to the middle once; measure the page there.
							for range 20 {
								_, next, err := s.ListCases(ctx, q)
								if err != nil {
									b.Fatal(err)
								}
								if next == "" {
									break
								}
								q.Cursor = next
							}
						}
						var lat []time.Duration
						for b.Loop() {
							t := time.Now()
							if _, _, err := s.ListCases(ctx, q); err != nil {
								b.Fatal(err)
							}
							lat = append(lat, time.Since(t))
						}
						slices.Sort(lat)
						b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
						b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
						b.ReportMetric(0, "ns/op")
					})
				}
			}
		})
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
