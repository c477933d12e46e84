package store

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestZZPlans(t *testing.T) {
	if os.Getenv("PLANS") == "" {
		t.Skip()
	}
	for _, open := range []func(testing.TB) *Store{openTestSQLite, openTestPostgres} {
		s := open(t)
		seedCases(t, s, 20000)
		yes := true
		open4 := []string{"logged", "assigned", "in_progress", "pending"}
		for _, q := range []ListQuery{
			{Kind: "incidents"}, {Kind: "incidents", Statuses: open4}, {Kind: "incidents", Statuses: []string{"closed"}},
			{Kind: "incidents", Major: &yes}, {Kind: "incidents", RaisedBy: "user1"}, {Kind: "incidents", RaisedBy: "user1", Statuses: open4},
			{}, {Kind: "incidents", Statuses: []string{"closed"}, Major: &yes, Breached: &yes},
		} {
			// capture SQL via DryRun-less approach: rebuild through a logger is heavy; use EXPLAIN on the generated text
			text, args := listSQL(q, nil, 50)
			prefix := "EXPLAIN QUERY PLAN "
			if s.Dialect() == "postgres" {
				prefix = "EXPLAIN "
			}
			rows, err := s.rdb.Raw(prefix+text, args...).Rows()
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			var out []string
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				rows.Scan(ptrs...)
				out = append(out, fmt.Sprint(vals[len(vals)-1]))
			}
			rows.Close()
			fmt.Printf("== %s %+v\n%s\n", s.Dialect(), q, strings.Join(out, "\n"))
		}
	}
}
