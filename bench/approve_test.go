package bench

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestApproveAndEmail runs the approve and email scenarios on a real
// embedded engine with tiny sizes and checks that the results are sane,
// as TestScenarios does for the others; it asserts nothing about speed.
func TestApproveAndEmail(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole Kanri for each scenario")
	}
	for _, c := range []struct {
		scenario string
		n        int
		says     string
	}{
		{Approve, 6, "12 approvals"},
		{Email, 20, "18 distinct + 2 re-delivered mails appended"},
	} {
		t.Run(c.scenario, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			results, err := Run(ctx, c.scenario, Options{N: c.n, Concurrency: 4})
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if len(results) != 1 || results[0].Scenario != c.scenario {
				t.Fatalf("results: %+v", results)
			}
			r := results[0]
			checkSane(t, r, c.n)
			if !strings.Contains(r.Notes, c.says) {
				t.Errorf("notes %q lack %q", r.Notes, c.says)
			}
			if c.scenario == Email && !strings.Contains(r.Notes, "18 incidents, 0 lost, 0 duplicate") {
				t.Errorf("email: %s", r.Notes)
			}
		})
	}
}

func TestApproveAndEmailNeedAnEngine(t *testing.T) {
	for _, name := range []string{Approve, Email} {
		_, err := Run(context.Background(), name, Options{URL: "http://127.0.0.1:1", Token: "x"})
		if !errors.Is(err, ErrNeedsEngine) {
			t.Errorf("%s at a URL: %v", name, err)
		}
	}
}

func TestApproveResult(t *testing.T) {
	round := func(ds ...time.Duration) sample {
		s := sample{n: len(ds), lat: ds, ok: make([]bool, len(ds)), elapsed: time.Second}
		for i := range s.ok {
			s.ok[i] = true
		}
		return s
	}
	prepared := sample{n: 2, lat: make([]time.Duration, 2), ok: []bool{true, false}, errors: 1,
		firstErr: errors.New("POST: status 500"), elapsed: time.Second}
	fast := approveResult(size{2, 4}, prepared, []sample{round(10*time.Millisecond, 20*time.Millisecond), round(30*time.Millisecond, 40*time.Millisecond)}, 4)
	if fast.Rate != 2 || fast.P99 != 40*time.Millisecond || fast.Errors != 1 || fast.FirstError != "POST: status 500" ||
		!strings.Contains(fast.Notes, "quorum p99 40.0ms") || !strings.Contains(fast.Notes, "100% visible at first GET") ||
		!strings.HasSuffix(fast.Notes, ": met") {
		t.Fatalf("fast: %+v", fast)
	}
	slow := approveResult(size{1, 1}, round(0), []sample{round(50 * time.Millisecond), round(150 * time.Millisecond)}, 1)
	if slow.P99 != 150*time.Millisecond || !strings.HasSuffix(slow.Notes, ": not met") || !strings.Contains(slow.Notes, "50% visible") {
		t.Fatalf("slow: %+v", slow)
	}
}
