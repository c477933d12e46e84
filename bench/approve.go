package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/kanri-itsm/kanri/policy"
)

// Approve is the scenario of change approvals decided through the API.
const Approve = "approve"

// approveTarget is the p99 the approve scenario must show (issue 8), from
// the approval request to the new status visible through GET.
const approveTarget = 100 * time.Millisecond

// The approvers of the built-in configuration's normal changes: the CAB
// group cab (cab1, cab2, cab3) with a quorum of two.
var cabApprovers = [...]string{"cab1", "cab2"}

// visibleWithin bounds how long an approval may take to show through GET
// before it counts as an error.
const visibleWithin = 30 * time.Second

// changeRecord is the part of a change record the approve scenario reads.
type changeRecord struct {
	ID        string     `json:"id"`
	Status    string     `json:"status"`
	Approvals []decision `json:"approvals"`
}

type decision struct {
	By       string `json:"by"`
	Decision string `json:"decision"`
}

func (r changeRecord) approvedBy(user string) bool {
	return slices.ContainsFunc(r.Approvals, func(a decision) bool { return a.By == user && a.Decision == "approved" })
}

// as is the client with another user's token, on the same connections.
func (c *apiClient) as(token string) *apiClient {
	cp := *c
	cp.token = token
	return &cp
}

func (c *apiClient) openChange(ctx context.Context, i int) (changeRecord, error) {
	body := map[string]any{
		"title":        fmt.Sprintf("Bench %d: upgrade the mail gateway", i),
		"description":  "Security fixes for the mail gateway; tested in staging.",
		"type":         "normal",
		"services":     []string{"email"},
		"backout_plan": "Restore the snapshot taken before the upgrade.",
	}
	var rec changeRecord
	if err := c.call(ctx, http.MethodPost, "/api/v1/changes", body, http.StatusCreated, &rec); err != nil {
		return changeRecord{}, err
	}
	if rec.ID == "" {
		return changeRecord{}, errors.New("POST /api/v1/changes: the record has no id")
	}
	return rec, nil
}

func (c *apiClient) actOnChange(ctx context.Context, id string, action map[string]any) (changeRecord, error) {
	var rec changeRecord
	err := c.call(ctx, http.MethodPost, "/api/v1/changes/"+id+"/actions", action, http.StatusOK, &rec)
	return rec, err
}

func (c *apiClient) getChange(ctx context.Context, id string) (changeRecord, error) {
	var rec changeRecord
	err := c.call(ctx, http.MethodGet, "/api/v1/changes/"+id, nil, http.StatusOK, &rec)
	return rec, err
}

// approve opens n normal changes through the API and brings each to
// awaiting_approval (assess, submit), untimed; then cab1 approves every
// one, then cab2, from c clients. Each approval is timed from sending the
// request until GET /api/v1/changes/{id} shows its effect: cab1's approval
// on the record, then the status approved once the quorum of two is met.
func (r *runner) approve(ctx context.Context, sz size) ([]Result, error) {
	cfg := policy.Default()
	if q := cfg.ChangePolicy.Approvers["normal"]; q.Group != "cab" || q.Quorum != len(cabApprovers) {
		return nil, fmt.Errorf("the approve scenario expects normal changes approved by cab with a quorum of %d, not %+v",
			len(cabApprovers), q)
	}
	t, err := r.target(ctx, cfg, sz.c)
	if err != nil {
		return nil, err
	}
	defer t.close()

	r.progressf("%s: opening, assessing and submitting %d changes", Approve, sz.n)
	ids := make([]string, sz.n)
	prepared := hammer(ctx, sz.n, sz.c, func(ctx context.Context, i int) error {
		rec, err := t.api.openChange(ctx, i)
		if err != nil {
			return err
		}
		if _, err := t.api.actOnChange(ctx, rec.ID, map[string]any{
			"action": "assess", "risk": "medium", "impact": "mail delayed ten minutes", "benefit": "security fixes",
			"feasibility": "tested in staging", "cost": "two hours", "security": "none",
		}); err != nil {
			return err
		}
		rec, err = t.api.actOnChange(ctx, rec.ID, map[string]any{"action": "submit"})
		if err != nil {
			return err
		}
		if rec.Status != "awaiting_approval" {
			return fmt.Errorf("%s after submit is %s, not awaiting_approval", rec.ID, rec.Status)
		}
		ids[i] = rec.ID
		return nil
	})
	if err := prepared.failed("changes to prepare"); err != nil {
		res := prepared.result(Approve, sz.c)
		t.measure(&res)
		return []Result{res}, err
	}
	ready := slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == "" })

	// One round per approver: the first approval leaves the change
	// awaiting approval with one decision on it, the second meets the
	// quorum. At the first GET that already shows the effect the request
	// was answered after the record was projected; otherwise GET is
	// repeated until it does.
	var (
		rounds  [len(cabApprovers)]sample
		firstOK atomic.Int64
	)
	for k, approver := range cabApprovers {
		quorum := k == len(cabApprovers)-1
		api := t.api.as(approver + "-dev-token")
		r.progressf("%s: %s approves %d changes", Approve, approver, len(ready))
		rounds[k] = hammer(ctx, len(ready), sz.c, func(ctx context.Context, i int) error {
			id := ready[i]
			if _, err := api.actOnChange(ctx, id, map[string]any{"action": "approve", "comment": "bench"}); err != nil {
				return err
			}
			shows := func(rec changeRecord) bool {
				if quorum {
					return rec.Status == "approved"
				}
				return rec.Status == "awaiting_approval" && rec.approvedBy(approver)
			}
			deadline := time.Now().Add(visibleWithin)
			for tries := 0; ; tries++ {
				rec, err := t.api.getChange(ctx, id)
				if err != nil {
					return err
				}
				if shows(rec) {
					if tries == 0 {
						firstOK.Add(1)
					}
					return nil
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("%s: %s's approval not visible after %s: status %s, %d decisions",
						id, approver, visibleWithin, rec.Status, len(rec.Approvals))
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Millisecond):
				}
			}
		})
	}
	res := approveResult(sz, prepared, rounds[:], int(firstOK.Load()))
	t.measure(&res)
	var errs []error
	for k, s := range rounds {
		errs = append(errs, s.failed(cabApprovers[k]+"'s approvals"))
	}
	return []Result{res}, errors.Join(errs...)
}

// approveResult is the approve row: the rate and latency percentiles of
// every approval, the quorum approvals' p99 and whether the target is met
// in the notes, and the errors of the preparation and the approvals.
func approveResult(sz size, prepared sample, rounds []sample, firstOK int) Result {
	var (
		all     []time.Duration
		elapsed time.Duration
		done    int
		errs    = prepared.errors
		first   = prepared.firstErr
	)
	for _, s := range rounds {
		all = append(all, s.latencies(nil)...)
		elapsed += s.elapsed
		done += s.succeeded()
		errs += s.errors
		if first == nil {
			first = s.firstErr
		}
	}
	res := Result{Scenario: Approve, N: sz.n, Concurrency: sz.c, Errors: errs}
	if elapsed > 0 {
		res.Rate = float64(done) / elapsed.Seconds()
	}
	res.withLatencies(all)
	if first != nil {
		res.FirstError = first.Error()
	}
	var quorum Result
	if len(rounds) > 0 {
		quorum.withLatencies(rounds[len(rounds)-1].latencies(nil))
	}
	verdict := "met"
	if res.P99 >= approveTarget || done == 0 {
		verdict = "not met"
	}
	res.Notes = fmt.Sprintf("%d approvals (cab1, then cab2 meets quorum 2); rate = approvals/s; request to status visible by GET; "+
		"quorum p99 %s; %d%% visible at first GET; prepared at %.1f changes/s; target p99 < %s: %s",
		done, ms(quorum.P99), percentOf(firstOK, done), prepared.rate(), ms(approveTarget), verdict)
	return res
}

func percentOf(k, n int) int {
	if n == 0 {
		return 0
	}
	return 100 * k / n
}
