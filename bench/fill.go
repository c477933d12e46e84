package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/store"
	"github.com/kanri-itsm/kanri/workflows"
)

// fillReport says how the list scenario's store was filled.
type fillReport struct {
	errors   int
	firstErr error
	notes    string
}

const (
	// viaAPI is how many of the list scenario's cases are opened through
	// the API, after the bulk: the newest pages then hold records that
	// workflows wrote, beside the synthetic ones.
	viaAPI = 10
	// fillers overlap building records with the store's single writer.
	fillers = 4
)

// fill puts n incidents in the store of the in-process Kanri. Opening
// 100,000 incidents through workflows would take longer than the whole
// benchmark, so the bulk is projected directly, as the workflows' own
// projection would write them; ids come from the store's sequence, so the
// incidents opened afterwards through the API never collide with them.
func (r *runner) fill(ctx context.Context, t *target, cfg *policy.Config, n int) (fillReport, error) {
	api := min(n, viaAPI)
	bulk := n - api
	st := t.in.app.Store()
	now := time.Now().UTC()
	r.progressf("%s: projecting %d incidents into the store, then opening %d through the API", List, bulk, api)
	direct := hammer(ctx, bulk, fillers, func(ctx context.Context, i int) error {
		id, num, err := st.NextID(ctx, "incidents", "INC")
		if err != nil {
			return err
		}
		return st.Project(ctx, syntheticIncident(cfg, id, num, i, now))
	})
	if err := direct.failed("projections"); err != nil {
		return fillReport{}, err
	}
	opened := hammer(ctx, api, 1, func(ctx context.Context, i int) error {
		_, err := t.api.openIncident(ctx, r.incident(i))
		return err
	})
	if err := opened.failed("openings"); err != nil {
		return fillReport{}, err
	}
	rep := fillReport{
		errors:   direct.errors + opened.errors,
		firstErr: direct.firstErr,
		notes:    fmt.Sprintf("%d projected (%.0f/s) + %d via API", bulk, direct.rate(), api),
	}
	if rep.firstErr == nil {
		rep.firstErr = opened.firstErr
	}
	return rep, nil
}

// syntheticIncident is the projection of a plausible incident, the i-th of
// the fill: most closed, few P1, every service, group and agent, 5%
// breached, 0.5% major, opened over the past year. Its random choices
// derive from i alone, so concurrent fillers share no generator.
func syntheticIncident(cfg *policy.Config, id string, num int64, i int, now time.Time) store.Projection {
	rng := rand.New(rand.NewPCG(uint64(i), 0x6b616e7269))
	pick := func(options ...string) string { return options[rng.IntN(len(options))] }

	inc := workflows.Incident{
		ID: id, Kind: "incidents", Links: []workflows.Link{},
		Title: pick("Outgoing mail stays in the outbox", "VPN drops every few minutes",
			"Payroll export fails with a timeout", "Cannot log in after password change",
			"Shared mailbox not visible in Outlook", "Printer on floor 3 offline"),
		Description: strings.Repeat("Several users in the sales team report the problem since this morning; a restart did not help. ", 1+rng.IntN(5)),
		Status: pick(workflows.StatusClosed, workflows.StatusClosed, workflows.StatusClosed, workflows.StatusClosed,
			workflows.StatusClosed, workflows.StatusClosed, workflows.StatusClosed, workflows.StatusClosed,
			workflows.StatusResolved, workflows.StatusInProgress, workflows.StatusInProgress,
			workflows.StatusAssigned, workflows.StatusLogged, workflows.StatusPending),
		Impact:  pick("low", "low", "medium", "medium", "medium", "high"),
		Urgency: pick("low", "medium", "medium", "medium", "high"),
		Service: cfg.Services[rng.IntN(len(cfg.Services))].ID,
		Caller:  cfg.Users[rng.IntN(len(cfg.Users))].ID,
	}
	inc.Priority, _ = cfg.PriorityMatrix.Priority(inc.Impact, inc.Urgency)
	inc.CreatedBy = inc.Caller

	// Most incidents stay with the first line; fewer reach each next group.
	path := cfg.Escalation.Functional
	level := [...]int{0, 0, 0, 0, 0, 0, 0, 1, 1, 2}[rng.IntN(10)] % len(path)
	inc.Group, inc.EscalationLevel = path[level], level
	if g, ok := cfg.GroupByID(inc.Group); ok && inc.Status != workflows.StatusLogged && len(g.Members) > 0 {
		inc.Assignee = g.Members[rng.IntN(len(g.Members))]
	}

	target := cfg.SLA.Targets[inc.Priority]
	inc.CreatedAt = now.Add(-time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
	inc.UpdatedAt = inc.CreatedAt
	inc.SLA = workflows.IncidentSLA{
		ResponseDue:   inc.CreatedAt.Add(target.Response.D()),
		ResolutionDue: inc.CreatedAt.Add(target.Resolution.D()),
		Breached:      []string{},
	}
	if inc.Status != workflows.StatusLogged && inc.Status != workflows.StatusAssigned {
		at := inc.CreatedAt.Add(time.Duration(rng.Int64N(int64(target.Response.D()))))
		inc.SLA.RespondedAt, inc.UpdatedAt = &at, at
	}
	if inc.Status == workflows.StatusResolved || inc.Status == workflows.StatusClosed {
		at := inc.CreatedAt.Add(time.Duration(rng.Int64N(int64(2 * target.Resolution.D()))))
		inc.ResolvedAt, inc.UpdatedAt = &at, at
		inc.Resolution = "Restarted the affected service and confirmed with the caller."
	}
	if inc.Status == workflows.StatusClosed {
		at := inc.ResolvedAt.Add(time.Duration(rng.Int64N(int64(72 * time.Hour))))
		inc.ClosedAt, inc.UpdatedAt = &at, at
	}
	if rng.IntN(20) == 0 {
		inc.SLA.Breached, inc.HierarchicalLevel = []string{"resolution"}, 1
	}
	if rng.IntN(200) == 0 {
		inc.Major, inc.MajorManager = true, "mona"
	}

	record, err := json.Marshal(inc)
	if err != nil {
		// A plain struct of strings, times and slices always marshals.
		panic(fmt.Sprintf("bench: marshal a synthetic incident: %v", err))
	}
	opening, _ := json.Marshal(map[string]string{"source": "api", "priority": inc.Priority, "group": path[0]})
	return store.Projection{
		Case: store.Case{
			ID: id, Kind: "incidents", Num: num, Title: inc.Title, Status: inc.Status, Priority: inc.Priority,
			Service: inc.Service, Assignee: inc.Assignee, Group: inc.Group, Major: inc.Major,
			Breached: len(inc.SLA.Breached) > 0, CreatedBy: inc.CreatedBy, Caller: inc.Caller,
			CreatedAt: inc.CreatedAt, UpdatedAt: inc.UpdatedAt, Seq: 1, Record: record,
		},
		Entry: &store.HistoryEntry{
			Seq: 1, At: inc.CreatedAt, Actor: inc.CreatedBy, Action: "open", To: workflows.StatusLogged, Detail: opening,
		},
	}
}
