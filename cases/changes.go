package cases

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/store"
	"github.com/kanri-itsm/kanri/workflows"
)

// activeWindow are the statuses in which a change holds its window: two of
// them on the same or dependent CIs at the same time conflict.
var activeWindow = []string{workflows.ChgScheduled, workflows.ChgImplementing}

// checkCIs checks that the CIs a change names are in the CMDB.
func (s *Service) checkCIs(ctx context.Context, ids []string) error {
	for _, id := range ids {
		if _, err := s.Store.GetCI(ctx, id); errors.Is(err, store.ErrNotFound) {
			return fail(ErrInvalid, "CI %q is not in the CMDB", id)
		} else if err != nil {
			return fmt.Errorf("check CI %s: %w", id, err)
		}
	}
	return nil
}

// checkCIUpdates checks what a change will write to the CMDB: an update of
// an existing CI, or a new CI with a type from the configuration and a name.
func (s *Service) checkCIUpdates(ctx context.Context, updates []activities.CIUpdate) error {
	seen := map[string]bool{}
	for i, u := range updates {
		if u.ID == "" {
			return fail(ErrInvalid, "ci_updates[%d] needs an id", i)
		}
		if seen[u.ID] {
			return fail(ErrInvalid, "ci_updates names %s twice", u.ID)
		}
		seen[u.ID] = true
		_, err := s.Store.GetCI(ctx, u.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if u.Type == "" || u.Name == "" {
				return fail(ErrInvalid, "ci_updates[%d]: %s is not in the CMDB; a new CI needs a type and a name", i, u.ID)
			}
		case err != nil:
			return fmt.Errorf("check CI %s: %w", u.ID, err)
		}
		if u.Type != "" && !slices.Contains(s.Config.CMDB.CITypes, u.Type) {
			return fail(ErrInvalid, "ci_updates[%d]: type %q is not one of cmdb.ci_types (%s)", i, u.Type, strings.Join(s.Config.CMDB.CITypes, ", "))
		}
		if u.Status != "" && !slices.Contains(policy.CIStatuses(), u.Status) {
			return fail(ErrInvalid, "ci_updates[%d]: status %q is not one of %s", i, u.Status, strings.Join(policy.CIStatuses(), ", "))
		}
		for _, rel := range u.Relations {
			if !slices.Contains([]string{store.RelDependsOn, store.RelRunsOn, store.RelPartOf}, rel.Type) {
				return fail(ErrInvalid, "ci_updates[%d]: relation %q is not one of depends_on, runs_on, part_of", i, rel.Type)
			}
			if rel.To == u.ID {
				return fail(ErrInvalid, "ci_updates[%d]: %s cannot relate to itself", i, u.ID)
			}
			if seen[rel.To] || slices.ContainsFunc(updates, func(o activities.CIUpdate) bool { return o.ID == rel.To }) {
				continue
			}
			if err := s.checkCIs(ctx, []string{rel.To}); err != nil {
				return err
			}
		}
	}
	return nil
}

// changeRecord reads a change's record from its row.
func changeRecord(row store.Case) (workflows.Change, error) {
	var c workflows.Change
	if err := json.Unmarshal(row.Record, &c); err != nil {
		return c, fmt.Errorf("read %s: %w", row.ID, err)
	}
	return c, nil
}

// checkChangeAction checks what a change action needs of the database: the
// CMDB for the CIs it names, and the change schedule for conflicts. It
// returns the action with the conflicts the caller accepted filled in.
func (s *Service) checkChangeAction(ctx context.Context, row store.Case, a workflows.Action) (workflows.Action, error) {
	a.Conflicts = nil
	switch a.Action {
	case "plan_release":
		errs := []error{checkHeading(a.Title, a.Description), s.checkCIs(ctx, a.CIs)}
		for i, c := range a.AcceptanceCriteria {
			errs = append(errs, checkText(fmt.Sprintf("acceptance_criteria[%d]", i), c, true, maxText))
		}
		rules := s.Config.ChangeRules()
		a.Rules = &rules
		return a, errors.Join(errs...)
	case "complete":
		return a, s.checkCIUpdates(ctx, a.CIUpdates)
	case "schedule":
	default:
		return a, nil
	}
	start, err1 := time.Parse(time.RFC3339, a.Start)
	end, err2 := time.Parse(time.RFC3339, a.End)
	if err1 != nil || err2 != nil {
		return a, nil // the workflow's validator words the 422
	}
	c, err := changeRecord(row)
	if err != nil {
		return a, err
	}
	conflicts, err := s.Store.ScheduleConflicts(ctx, row.ID, start.UTC(), end.UTC(), c.CIs, activeWindow)
	if err != nil {
		return a, fmt.Errorf("schedule %s: %w", row.ID, err)
	}
	if len(conflicts) == 0 {
		return a, nil
	}
	if !a.AcceptConflicts {
		words := make([]string, len(conflicts))
		for i, k := range conflicts {
			words[i] = fmt.Sprintf("%s (%s to %s, %s)", k.ChangeID, k.Start.UTC().Format(time.RFC3339), k.End.UTC().Format(time.RFC3339), k.Reason)
		}
		return a, fail(ErrConflict, "the window conflicts with %s; send accept_conflicts: true to schedule it anyway", strings.Join(words, "; "))
	}
	for _, k := range conflicts {
		if !slices.Contains(a.Conflicts, k.ChangeID) {
			a.Conflicts = append(a.Conflicts, k.ChangeID)
		}
	}
	return a, nil
}

// OpenRelease is the body of POST /releases: a release is always planned
// by a change, which then waits for its deployment.
type OpenRelease struct {
	Title              string   `json:"title"`
	Description        string   `json:"description"`
	Change             string   `json:"change"`
	CIs                []string `json:"cis"`
	AcceptanceCriteria []string `json:"acceptance_criteria"`
}

// OpenRelease plans a release on a change (its plan_release action) and
// returns the release's record.
func (s *Service) OpenRelease(ctx context.Context, actor workflows.Actor, in OpenRelease, requestID string) (json.RawMessage, error) {
	if err := checkHeading(in.Title, in.Description); err != nil {
		return nil, err
	}
	if in.Change == "" {
		return nil, fail(ErrInvalid, "change is required: a release is planned by the change it deploys")
	}
	changes, _ := KindOf("changes")
	rec, err := s.Act(ctx, changes, in.Change, workflows.Action{
		Action: "plan_release", Actor: actor, Title: strings.TrimSpace(in.Title), Description: in.Description,
		CIs: in.CIs, AcceptanceCriteria: in.AcceptanceCriteria, Source: "api",
	}, requestID)
	if err != nil {
		return nil, err
	}
	var c workflows.Change
	if err := json.Unmarshal(rec, &c); err != nil || len(c.Releases) == 0 {
		return nil, fmt.Errorf("plan release on %s: no release in the change's answer", in.Change)
	}
	releases, _ := KindOf("releases")
	return s.Get(ctx, releases, c.Releases[len(c.Releases)-1].ID, actor)
}

// ScheduleItem is one change in the change schedule, with the changes it
// conflicts with.
type ScheduleItem struct {
	store.ScheduledChange
	Conflicts []store.Conflict `json:"conflicts"`
}

// maxScheduleSpan bounds a schedule request.
const maxScheduleSpan = 366 * 24 * time.Hour

// Schedule returns the change schedule between from and to: every change
// whose window overlaps it and is still to happen or happening, in start
// order, each with its conflicts. Blackout windows come with it.
func (s *Service) Schedule(ctx context.Context, actor workflows.Actor, from, to time.Time) ([]ScheduleItem, []policy.Blackout, error) {
	if !actor.Has(policy.RoleAgent, policy.RoleAdmin, policy.RoleProcessOwner) {
		return nil, nil, fail(ErrForbidden, "%s may not read the change schedule", actor.ID)
	}
	if !to.After(from) {
		return nil, nil, fail(ErrInvalid, "to must be after from")
	}
	if to.Sub(from) > maxScheduleSpan {
		return nil, nil, fail(ErrInvalid, "the schedule spans at most 366 days")
	}
	rows, err := s.Store.ChangeSchedule(ctx, from, to)
	if err != nil {
		return nil, nil, fmt.Errorf("change schedule: %w", err)
	}
	items := []ScheduleItem{}
	for _, r := range rows {
		if !slices.Contains([]string{workflows.ChgScheduled, workflows.ChgImplementing, workflows.ChgCompleted,
			workflows.ChgFailed, workflows.ChgBackedOut, workflows.ChgReviewed, workflows.ChgClosed}, r.Status) {
			continue
		}
		it := ScheduleItem{ScheduledChange: r, Conflicts: []store.Conflict{}}
		if slices.Contains(activeWindow, r.Status) {
			c, err := s.Store.ScheduleConflicts(ctx, r.ChangeID, r.Start, r.End, r.CIs, activeWindow)
			if err != nil {
				return nil, nil, fmt.Errorf("change schedule: %w", err)
			}
			it.Conflicts = c
		}
		items = append(items, it)
	}
	var blackouts []policy.Blackout
	for _, b := range s.Config.ChangePolicy.Blackouts {
		if b.Start.Before(to) && from.Before(b.End) {
			blackouts = append(blackouts, b)
		}
	}
	return items, blackouts, nil
}

// Evidence is what an ISO/IEC 20000 auditor samples for one change
// (spec §2.13 (d)): the RFC with its classification, the assessment, every
// approval decision, the schedule, tests and acceptance of its releases,
// the deployment, the CMDB revisions it wrote and the review, with the
// history that shows who did each and when.
type Evidence struct {
	Change      json.RawMessage   `json:"change"`
	Releases    []json.RawMessage `json:"releases"`
	CMDB        []store.CI        `json:"cmdb"`
	History     []HistoryItem     `json:"history"`
	GeneratedAt time.Time         `json:"generated_at"`
	GeneratedBy string            `json:"generated_by"`
}

// Evidence assembles a change's evidence document.
func (s *Service) Evidence(ctx context.Context, id string, actor workflows.Actor) (Evidence, error) {
	if !actor.Has(policy.RoleAgent, policy.RoleAdmin, policy.RoleProcessOwner) {
		return Evidence{}, fail(ErrForbidden, "%s may not read evidence: it needs the process_owner role", actor.ID)
	}
	changes, _ := KindOf("changes")
	rec, err := s.Get(ctx, changes, id, actor)
	if err != nil {
		return Evidence{}, err
	}
	hist, err := s.History(ctx, changes, id, actor)
	if err != nil {
		return Evidence{}, err
	}
	var c workflows.Change
	if err := json.Unmarshal(rec, &c); err != nil {
		return Evidence{}, fmt.Errorf("evidence for %s: %w", id, err)
	}
	ev := Evidence{Change: rec, Releases: []json.RawMessage{}, History: hist, GeneratedAt: time.Now().UTC(), GeneratedBy: actor.ID}
	releases, _ := KindOf("releases")
	for _, r := range c.Releases {
		rr, err := s.Get(ctx, releases, r.ID, actor)
		if err != nil {
			return Evidence{}, fmt.Errorf("evidence for %s: %w", id, err)
		}
		ev.Releases = append(ev.Releases, rr)
	}
	if ev.CMDB, err = s.Store.CIRevisionsByChange(ctx, id); err != nil {
		return Evidence{}, fmt.Errorf("evidence for %s: %w", id, err)
	}
	if ev.CMDB == nil {
		ev.CMDB = []store.CI{}
	}
	return ev, nil
}
