package store

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func problemCase(num, seq int64) Case {
	c := testCase(fmt.Sprintf("PRB-%06d", num), num, seq)
	c.Kind, c.Status = "problems", "known_error"
	return c
}

func projectKnownError(t *testing.T, s *Store, num, seq int64, ke KnownError) {
	t.Helper()
	c := problemCase(num, seq)
	if err := s.Project(ctxT(t), Projection{Case: c, Entry: entry(c.ID, seq, "known_error", "investigating", "known_error"),
		KnownError: &ke}); err != nil {
		t.Fatal(err)
	}
}

func searchIDs(t *testing.T, s *Store, q string, limit int) []string {
	t.Helper()
	got, err := s.SearchKnownErrors(ctxT(t), q, limit)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, ke := range got {
		ids = append(ids, ke.ProblemID)
	}
	return ids
}

func TestKnownErrors(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		// Entry times grow with seq, so PRB-4 (seq 4) is the newest.
		projectKnownError(t, s, 1, 1, KnownError{Title: "SMTP relay rejects 100% of outbound mail",
			RootCause: "Expired TLS certificate", Workaround: "Route through the backup relay", Status: "known_error",
			Services: []string{"email"}})
		projectKnownError(t, s, 2, 2, KnownError{Title: "メールサーバーの証明書期限切れ",
			RootCause: "証明書の自動更新が停止していた", Workaround: "手動で証明書を更新する", Status: "known_error"})
		projectKnownError(t, s, 3, 3, KnownError{Title: "Batch retries 1000 mails at night",
			RootCause: "disk_full on the spool volume", Workaround: "Purge the spool", Status: "known_error"})
		projectKnownError(t, s, 4, 4, KnownError{Title: "VPN drops every 8h",
			RootCause: "Session timeout", Workaround: "再接続してください (reconnect)", Status: "known_error"})

		for _, c := range []struct {
			q    string
			want []string
		}{
			{"", []string{"PRB-000004", "PRB-000003", "PRB-000002", "PRB-000001"}},
			{"smtp", []string{"PRB-000001"}},
			{"TLS CERTIFICATE", []string{"PRB-000001"}},
			{"証明書", []string{"PRB-000002"}},
			{"手動で", []string{"PRB-000002"}},
			{"再接続", []string{"PRB-000004"}},
			{"RECONNECT", []string{"PRB-000004"}},
			{"mail", []string{"PRB-000003", "PRB-000001"}},
			// % and _ are literal: "100%" must not match "1000 mails",
			// "k_f" must not match "disk full".
			{"100%", []string{"PRB-000001"}},
			{"100", []string{"PRB-000003", "PRB-000001"}},
			{"k_f", []string{"PRB-000003"}},
			{"%", []string{"PRB-000001"}},
			{"_", []string{"PRB-000003"}},
			{`\`, []string{}},
			{"no such thing", []string{}},
		} {
			if got := searchIDs(t, s, c.q, 0); !slices.Equal(got, c.want) {
				t.Errorf("search %q: %v, want %v", c.q, got, c.want)
			}
		}
		if got := searchIDs(t, s, "", 2); !slices.Equal(got, []string{"PRB-000004", "PRB-000003"}) {
			t.Errorf("limit 2: %v", got)
		}

		// A stale retry does not overwrite; a newer transition does.
		projectKnownError(t, s, 1, 0, KnownError{Title: "stale", Status: "investigating"})
		got, err := s.SearchKnownErrors(ctx, "smtp", 0)
		if err != nil || len(got) != 1 {
			t.Fatalf("after stale retry: %+v %v", got, err)
		}
		ke := got[0]
		if ke.Title != "SMTP relay rejects 100% of outbound mail" || ke.Seq != 1 || !slices.Equal(ke.Services, []string{"email"}) ||
			!ke.UpdatedAt.Equal(t0.Add(time.Minute)) || ke.UpdatedAt.Location() != time.UTC {
			t.Errorf("known error %+v", ke)
		}
		closedAt := t0.Add(48 * time.Hour)
		projectKnownError(t, s, 1, 9, KnownError{Title: "SMTP relay rejects 100% of outbound mail",
			RootCause: "Expired TLS certificate", Workaround: "None needed", Status: "closed", UpdatedAt: closedAt})
		got, _ = s.SearchKnownErrors(ctx, "", 0)
		if len(got) != 4 || got[0].ProblemID != "PRB-000001" || got[0].Status != "closed" || got[0].Seq != 9 ||
			!got[0].UpdatedAt.Equal(closedAt) || got[0].Services == nil {
			t.Errorf("after seq 9: %+v", got)
		}

		of, err := s.KnownErrorsOf(ctx, []string{"PRB-000004", "PRB-000002", "PRB-000099"})
		if err != nil || len(of) != 2 || of[0].ProblemID != "PRB-000002" || of[1].ProblemID != "PRB-000004" || of[0].Workaround != "手動で証明書を更新する" {
			t.Errorf("known errors of two problems and one without: %+v %v", of, err)
		}

		c := problemCase(5, 1)
		if err := s.Project(ctx, Projection{Case: c, KnownError: &KnownError{ProblemID: "PRB-000001"}}); err == nil {
			t.Error("a known error of another problem was projected")
		}
	})
}

func TestIncidentsOnServices(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, s *Store) {
		ctx := ctxT(t)
		from, to := t0, t0.Add(24*time.Hour)
		for i, c := range []struct {
			kind, service string
			created       time.Time
		}{
			{"incidents", "email", from},                        // counted: from is inclusive
			{"incidents", "email", to.Add(-time.Microsecond)},   // counted
			{"incidents", "vpn", from.Add(time.Hour)},           // counted
			{"incidents", "vpn", to},                            // to is exclusive
			{"incidents", "email", from.Add(-time.Microsecond)}, // before
			{"incidents", "printing", from.Add(time.Hour)},      // another service
			{"requests", "email", from.Add(time.Hour)},          // not an incident
		} {
			cs := testCase(fmt.Sprintf("X-%06d", i+1), int64(i+1), 1)
			cs.Kind, cs.Service, cs.CreatedAt = c.kind, c.service, c.created
			if err := s.Project(ctx, Projection{Case: cs}); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []struct {
			services []string
			want     int64
		}{
			{[]string{"email", "vpn"}, 3},
			{[]string{"email"}, 2},
			{[]string{"vpn"}, 1},
			{[]string{"nope"}, 0},
			{nil, 0},
		} {
			n, err := s.IncidentsOnServices(ctx, c.services, from.In(time.FixedZone("JST", 9*3600)), to)
			if err != nil || n != c.want {
				t.Errorf("%v: %d %v, want %d", c.services, n, err, c.want)
			}
		}
	})
}
