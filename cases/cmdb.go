package cases

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/store"
	"github.com/kanri-itsm/kanri/workflows"
)

// staff: the CMDB, the known errors and the reports are for the service
// provider's people, not for requesters.
func staff(actor workflows.Actor) error {
	if !actor.Has(policy.RoleAgent, policy.RoleAdmin, policy.RoleProcessOwner) {
		return fail(ErrForbidden, "%s may not read the CMDB or reports: it needs the agent or process_owner role", actor.ID)
	}
	return nil
}

// CIRecord is a CI with its history of revisions.
type CIRecord struct {
	store.CI
	Revisions []store.CI `json:"revisions"`
}

// ListCIs lists configuration items.
func (s *Service) ListCIs(ctx context.Context, actor workflows.Actor, q store.CIQuery) ([]store.CI, error) {
	if err := staff(actor); err != nil {
		return nil, err
	}
	if q.Type != "" && !slices.Contains(s.Config.CMDB.CITypes, q.Type) {
		return nil, fail(ErrInvalid, "type %q is not one of cmdb.ci_types (%s)", q.Type, strings.Join(s.Config.CMDB.CITypes, ", "))
	}
	cis, err := s.Store.ListCIs(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list CIs: %w", err)
	}
	if cis == nil {
		cis = []store.CI{}
	}
	return cis, nil
}

// GetCI returns a CI and every revision of it, each naming the change that
// wrote it.
func (s *Service) GetCI(ctx context.Context, actor workflows.Actor, id string) (CIRecord, error) {
	if err := staff(actor); err != nil {
		return CIRecord{}, err
	}
	ci, err := s.Store.GetCI(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return CIRecord{}, fail(ErrNotFound, "CI %s does not exist", id)
	}
	if err != nil {
		return CIRecord{}, fmt.Errorf("get CI %s: %w", id, err)
	}
	revs, err := s.Store.CIRevisions(ctx, id)
	if err != nil {
		return CIRecord{}, fmt.Errorf("get CI %s: %w", id, err)
	}
	return CIRecord{CI: ci, Revisions: revs}, nil
}

// Impact returns every CI and service that depends on a CI, transitively.
func (s *Service) Impact(ctx context.Context, actor workflows.Actor, id string) (store.Impact, error) {
	if err := staff(actor); err != nil {
		return store.Impact{}, err
	}
	im, err := s.Store.Impact(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Impact{}, fail(ErrNotFound, "CI %s does not exist", id)
	}
	if err != nil {
		return store.Impact{}, fmt.Errorf("impact of %s: %w", id, err)
	}
	if im.CIs == nil {
		im.CIs = []store.ImpactItem{}
	}
	if im.Services == nil {
		im.Services = []string{}
	}
	return im, nil
}

// WriteCI is the body of PATCH /cis/{id} (and POST /cis for a new CI):
// the change that authorises the edit, and the edit.
type WriteCI struct {
	Change string `json:"change"`
	activities.CIUpdate
}

// WriteCI records a new revision of a CI. Configuration data changes only
// through change management (spec §2.12): the edit must name a change that
// completed successfully and covers the CI, and each change writes one
// revision of each CI.
func (s *Service) WriteCI(ctx context.Context, actor workflows.Actor, id string, in WriteCI) (CIRecord, error) {
	if !actor.Has(policy.RoleAgent, policy.RoleAdmin) {
		return CIRecord{}, fail(ErrForbidden, "%s may not record CI changes: it needs the agent role", actor.ID)
	}
	if in.ID != "" && in.ID != id {
		return CIRecord{}, fail(ErrInvalid, "the body's id %s is not the CI %s", in.ID, id)
	}
	in.ID = id
	if in.Change == "" {
		return CIRecord{}, fail(ErrConflict, "a CI changes only through a change: name the completed change that authorises this edit")
	}
	row, err := s.Store.GetCase(ctx, in.Change)
	if errors.Is(err, store.ErrNotFound) || (err == nil && row.Kind != "changes") {
		return CIRecord{}, fail(ErrInvalid, "change %s does not exist", in.Change)
	}
	if err != nil {
		return CIRecord{}, fmt.Errorf("write CI %s: %w", id, err)
	}
	c, err := changeRecord(row)
	if err != nil {
		return CIRecord{}, err
	}
	// Only a change that has just completed, before its review, may still
	// record what it did to a CI it covers: a reviewed or closed change is
	// evidence, not a licence to edit.
	if c.Status != workflows.ChgCompleted || c.Outcome == nil || !c.Outcome.Success {
		return CIRecord{}, fail(ErrConflict, "%s is %s: only a change that completed successfully, before its review, updates the CMDB", c.ID, c.Status)
	}
	covered := slices.Contains(c.CIs, id) || slices.ContainsFunc(c.CIUpdates, func(u activities.CIUpdate) bool { return u.ID == id })
	if !covered {
		return CIRecord{}, fail(ErrConflict, "%s does not cover CI %s (its cis: %s)", c.ID, id, strings.Join(c.CIs, ", "))
	}
	written, err := s.Store.CIRevisionsByChange(ctx, c.ID)
	if err != nil {
		return CIRecord{}, fmt.Errorf("write CI %s: %w", id, err)
	}
	if i := slices.IndexFunc(written, func(r store.CI) bool { return r.ID == id }); i >= 0 {
		return CIRecord{}, fail(ErrConflict, "%s already wrote revision %d of %s; a further edit needs another change", c.ID, written[i].Rev, id)
	}
	if err := s.checkCIUpdates(ctx, []activities.CIUpdate{in.CIUpdate}); err != nil {
		return CIRecord{}, err
	}
	cur, err := s.Store.GetCI(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		cur = store.CI{ID: id}
	} else if err != nil {
		return CIRecord{}, fmt.Errorf("write CI %s: %w", id, err)
	}
	if _, err := s.Store.WriteCI(ctx, activities.Merge(cur, in.CIUpdate), c.ID, actor.ID, time.Now().UTC()); err != nil {
		return CIRecord{}, fmt.Errorf("write CI %s: %w", id, err)
	}
	return s.GetCI(ctx, actor, id)
}

// TakeBaseline is the body of POST /baselines.
type TakeBaseline struct {
	Name string   `json:"name"`
	CIs  []string `json:"cis"`
}

// TakeBaseline freezes the current revisions of a set of CIs under a name.
// Releases take theirs before they deploy; this is for the rest.
func (s *Service) TakeBaseline(ctx context.Context, actor workflows.Actor, in TakeBaseline) (store.Baseline, error) {
	if !actor.Has(policy.RoleAgent, policy.RoleAdmin) {
		return store.Baseline{}, fail(ErrForbidden, "%s may not take a baseline: it needs the agent role", actor.ID)
	}
	if err := checkText("name", in.Name, true, maxTitle); err != nil {
		return store.Baseline{}, err
	}
	if strings.ContainsAny(in.Name, "/?#") {
		return store.Baseline{}, fail(ErrInvalid, "a baseline name may not contain /, ? or #: it is read back by name in a URL")
	}
	if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(in.Name)), "REL-") {
		return store.Baseline{}, fail(ErrInvalid, "names starting with REL- are kept for the baselines releases take before they deploy")
	}
	if len(in.CIs) == 0 {
		return store.Baseline{}, fail(ErrInvalid, "cis is required: the CIs to freeze")
	}
	b, err := s.Store.CreateBaseline(ctx, in.Name, "", in.CIs, actor.ID, time.Now().UTC())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Baseline{}, fail(ErrInvalid, "%v", err)
	case errors.Is(err, store.ErrBaselineExists):
		return store.Baseline{}, fail(ErrConflict, "a baseline named %q exists already", in.Name)
	case err != nil:
		return store.Baseline{}, fmt.Errorf("take baseline %s: %w", in.Name, err)
	}
	return b, nil
}

// Baseline returns a baseline by name.
func (s *Service) Baseline(ctx context.Context, actor workflows.Actor, name string) (store.Baseline, error) {
	if err := staff(actor); err != nil {
		return store.Baseline{}, err
	}
	b, err := s.Store.GetBaseline(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return store.Baseline{}, fail(ErrNotFound, "baseline %q does not exist", name)
	}
	if err != nil {
		return store.Baseline{}, fmt.Errorf("baseline %s: %w", name, err)
	}
	return b, nil
}

// Baselines lists baselines, those of one release when release is set.
func (s *Service) Baselines(ctx context.Context, actor workflows.Actor, release string) ([]store.Baseline, error) {
	if err := staff(actor); err != nil {
		return nil, err
	}
	bs, err := s.Store.ListBaselines(ctx, release)
	if err != nil {
		return nil, fmt.Errorf("baselines: %w", err)
	}
	if bs == nil {
		bs = []store.Baseline{}
	}
	return bs, nil
}

// KnownErrors searches the known-error database.
func (s *Service) KnownErrors(ctx context.Context, actor workflows.Actor, q string, limit int) ([]store.KnownError, error) {
	if err := staff(actor); err != nil {
		return nil, err
	}
	if err := checkText("q", q, false, maxTitle); err != nil {
		return nil, err
	}
	ks, err := s.Store.SearchKnownErrors(ctx, q, limit)
	if err != nil {
		return nil, fmt.Errorf("known errors: %w", err)
	}
	if ks == nil {
		ks = []store.KnownError{}
	}
	return ks, nil
}

// ProblemTrend is one line of the trend report: a problem and the
// incidents it explains.
type ProblemTrend struct {
	Problem   string   `json:"problem"`
	Title     string   `json:"title"`
	Status    string   `json:"status"`
	Service   string   `json:"service"`
	Incidents []string `json:"incidents"`
	Count     int      `json:"count"`
}

// ProblemTrends reports the incidents per problem, most first (spec §2.11
// (f): trend analysis). It reads up to limit problems, newest first.
func (s *Service) ProblemTrends(ctx context.Context, actor workflows.Actor, limit int) ([]ProblemTrend, error) {
	if err := staff(actor); err != nil {
		return nil, err
	}
	out := []ProblemTrend{}
	q := store.ListQuery{Kind: "problems", Limit: 200}
	for len(out) < limit {
		rows, next, err := s.Store.ListCases(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("problem trends: %w", err)
		}
		for _, r := range rows {
			var p workflows.Problem
			if err := json.Unmarshal(r.Record, &p); err != nil {
				return nil, fmt.Errorf("problem trends: read %s: %w", r.ID, err)
			}
			t := ProblemTrend{Problem: p.ID, Title: p.Title, Status: p.Status, Service: p.Service, Incidents: []string{}}
			for _, l := range p.Links {
				if l.Kind == "incidents" && !slices.Contains(t.Incidents, l.ID) {
					t.Incidents = append(t.Incidents, l.ID)
				}
			}
			t.Count = len(t.Incidents)
			out = append(out, t)
		}
		if next == "" {
			break
		}
		q.Cursor = next
	}
	if len(out) > limit {
		out = out[:limit]
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Count > out[j].Count })
	return out, nil
}
