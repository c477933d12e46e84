package workflows_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/temporaltest"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/store"
	"github.com/kanri-itsm/kanri/workflows"
)

// The replay corpus: histories of real runs, replayed against the current
// workflow code on every `go test`, so that a change which would break the
// cases already running fails the build (DESIGN.md). A change that is meant
// to alter the commands a workflow issues goes behind workflow.GetVersion;
// then record again and keep the old files next to the new ones.

var record = flag.Bool("record", false,
	"record the replay corpus testdata/history_*.json against an in-process Temporal server")

const historyGlob = "testdata/history_*.json"

func quietLogger() log.Logger {
	return log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func TestReplay(t *testing.T) {
	files, err := filepath.Glob(historyGlob)
	require.NoError(t, err)
	require.NotEmpty(t, files, "no recorded histories match %s: run go test ./workflows -run TestRecordHistories -record", historyGlob)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			workflows.Register(r)
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(quietLogger(), f))
		})
	}
}

// memRecorder is an in-memory activities.Recorder.
type memRecorder struct {
	mu   sync.Mutex
	ps   []store.Projection
	next int64
}

func (m *memRecorder) Project(_ context.Context, p store.Projection) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ps = append(m.ps, p)
	return nil
}

// actions lists the history actions projected for the case, in seq order.
// NextID hands out ids for the cases a workflow starts (a problem's RFC).
func (m *memRecorder) NextID(_ context.Context, kind, prefix string) (string, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.next++
	return fmt.Sprintf("%s-%06d", prefix, 900+m.next), 900 + m.next, nil
}

// lastID returns the id of the newest case of the kind projected so far.
func (m *memRecorder) lastID(kind string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := ""
	for _, p := range m.ps {
		if p.Case.Kind == kind {
			id = p.Case.ID
		}
	}
	return id
}

func (m *memRecorder) actions(caseID string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var es []*store.HistoryEntry
	for _, p := range m.ps {
		if p.Case.ID == caseID && p.Entry != nil {
			es = append(es, p.Entry)
		}
	}
	slices.SortFunc(es, func(a, b *store.HistoryEntry) int { return int(a.Seq - b.Seq) })
	var out []string
	for _, e := range es {
		out = append(out, e.Action)
	}
	return out
}

// recording drives cases through a client the way the API does.
type recording struct {
	t   *testing.T
	ctx context.Context
	c   client.Client
	rec *memRecorder
}

func (r *recording) open(id string, wf, in any) {
	r.t.Helper()
	op := r.c.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID: id, TaskQueue: workflows.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
	}, wf, in)
	h, err := r.c.UpdateWithStartWorkflow(r.ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: op,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateName: workflows.UpdateOpened, WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	require.NoError(r.t, err)
	var rec map[string]any
	require.NoError(r.t, h.Get(r.ctx, &rec))
	require.Equal(r.t, id, rec["id"])
}

// act sends an action and returns its error (nil when applied).
func (r *recording) act(id string, a workflows.Action) error {
	h, err := r.c.UpdateWorkflow(r.ctx, client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: workflows.UpdateAct,
		WaitForStage: client.WorkflowUpdateStageCompleted, Args: []any{a},
	})
	if err != nil {
		return err
	}
	return h.Get(r.ctx, nil)
}

func (r *recording) mustAct(id string, a workflows.Action) {
	r.t.Helper()
	require.NoError(r.t, r.act(id, a), "%s %s", id, a.Action)
}

// waitFor polls until the case's projected history holds the action.
func (r *recording) waitFor(id, action string) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !slices.Contains(r.rec.actions(id), action) {
		require.True(r.t, time.Now().Before(deadline), "%s: no %s after 30s; history %v", id, action, r.rec.actions(id))
		time.Sleep(50 * time.Millisecond)
	}
}

// finish waits for the run to end and writes its history to testdata.
func (r *recording) finish(id, name string) {
	r.t.Helper()
	run := r.c.GetWorkflow(r.ctx, id, "")
	require.NoError(r.t, run.Get(r.ctx, nil), "%s did not complete", id)
	hist := &historypb.History{}
	it := r.c.GetWorkflowHistory(r.ctx, id, run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(r.t, err)
		hist.Events = append(hist.Events, e)
	}
	b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
	require.NoError(r.t, err)
	path := filepath.Join("testdata", "history_"+name+".json")
	require.NoError(r.t, os.WriteFile(path, append(b, '\n'), 0o644))

	// The file must replay against the code that produced it.
	rp := worker.NewWorkflowReplayer()
	workflows.Register(rp)
	require.NoError(r.t, rp.ReplayWorkflowHistoryFromJSONFile(quietLogger(), path))
	r.t.Logf("%s: %d events, projected %v", path, len(hist.Events), r.rec.actions(id))
}

// TestRecordHistories rewrites the replay corpus. It runs only with -record:
//
//	go test ./workflows -run TestRecordHistories -record
func TestRecordHistories(t *testing.T) {
	if !*record {
		t.Skip("rewrites testdata/history_*.json; run with -record")
	}
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	mem := &memRecorder{}
	// The CMDB is a real store on a throwaway SQLite file.
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "cmdb.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	require.NoError(t, db.Migrate(context.Background()))
	_, err = db.RegisterCI(context.Background(), store.CI{ID: "mail-app", Type: "application", Name: "Mail server", Version: "2.4", Status: "active"}, "configuration", time.Now())
	require.NoError(t, err)
	ts.NewWorker(workflows.TaskQueue, func(reg worker.Registry) {
		workflows.Register(reg)
		reg.RegisterActivity(&activities.Activities{Store: mem, IDs: mem, CMDB: db})
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := &recording{t: t, ctx: ctx, c: ts.GetDefaultClient(), rec: mem}
	require.NoError(t, os.MkdirAll("testdata", 0o755))
	cfg := testPolicyConfig(t)

	incident := func(id string, pol policy.IncidentPolicy) workflows.IncidentInput {
		in := incidentInput(pol, "high", "high")
		in.ID = id
		fmt.Sscanf(id, "INC-%d", &in.Num)
		return in
	}

	t.Run("incident lifecycle", func(t *testing.T) {
		r.t = t
		const id = "INC-000101"
		r.open(id, workflows.IncidentWorkflow, incident(id, cfg.IncidentPolicy()))
		r.mustAct(id, workflows.Action{Action: "assign", Actor: alice, Assignee: "alice", Source: "api"})
		r.mustAct(id, workflows.Action{Action: "start", Actor: alice, Source: "api"})
		r.mustAct(id, workflows.Action{Action: "comment", Actor: rita, Body: "still down", Source: "api"})
		require.Error(t, r.act(id, workflows.Action{Action: "resolve", Actor: rita, Resolution: "x"}), "a rejected update")
		r.mustAct(id, workflows.Action{Action: "pend", Actor: alice, Reason: "waiting for the vendor"})
		r.mustAct(id, workflows.Action{Action: "resume", Actor: alice})
		r.mustAct(id, workflows.Action{Action: "link", Actor: alice, Kind: "problems", ID: "PRB-000001", Relation: "caused_by"})
		r.mustAct(id, resolve())
		r.mustAct(id, workflows.Action{Action: "confirm", Actor: rita})
		r.finish(id, "incident_lifecycle")
	})

	t.Run("incident breach and auto-close", func(t *testing.T) {
		r.t = t
		const id = "INC-000102"
		pol := cfg.IncidentPolicy()
		pol.Targets["P1"] = policy.TargetTimes{Response: 2 * time.Second, Resolution: 10 * time.Second}
		pol.Warning = 0.5
		pol.AutoCloseAfter = 3 * time.Second
		r.open(id, workflows.IncidentWorkflow, incident(id, pol))
		// A refused action by signal (email) is recorded, not dropped.
		require.NoError(t, r.c.SignalWorkflow(ctx, id, "", workflows.SignalAct,
			workflows.Action{Action: "resolve", Actor: rita, Resolution: "works for me", Source: "email"}))
		r.waitFor(id, "sla_warning") // response breaches at 2s and 4s, the warning at 5s
		r.mustAct(id, workflows.Action{Action: "start", Actor: carl})
		r.mustAct(id, workflows.Action{Action: "resolve", Actor: carl, Resolution: "replaced the disk"})
		r.finish(id, "incident_breach_autoclose") // closes by itself 3s later
		require.Contains(t, mem.actions(id), "auto_close")
	})

	t.Run("major incident", func(t *testing.T) {
		r.t = t
		const id = "INC-000103"
		r.open(id, workflows.IncidentWorkflow, incident(id, cfg.IncidentPolicy()))
		r.mustAct(id, workflows.Action{Action: "start", Actor: alice})
		r.mustAct(id, workflows.Action{Action: "declare_major", Actor: alice, Manager: "mona"})
		r.mustAct(id, resolve())
		require.Error(t, r.act(id, workflows.Action{Action: "confirm", Actor: rita}), "no confirm before the review")
		r.mustAct(id, workflows.Action{Action: "review_major", Actor: tess, Summary: "disk full", Improvements: "alert on disk usage"})
		r.mustAct(id, workflows.Action{Action: "confirm", Actor: rita})
		r.finish(id, "incident_major")
	})

	t.Run("request with approval", func(t *testing.T) {
		r.t = t
		const id = "REQ-000101"
		pol, err := cfg.RequestPolicy("new-laptop")
		require.NoError(t, err)
		in := requestInput(pol)
		in.ID, in.Num = id, 101
		r.open(id, workflows.RequestWorkflow, in)
		require.Error(t, r.act(id, workflows.Action{Action: "approve", Actor: rita}), "the caller may not approve")
		r.mustAct(id, workflows.Action{Action: "approve", Actor: mona, Comment: "ok"})
		r.mustAct(id, workflows.Action{Action: "approve", Actor: mark, Comment: "fine"})
		r.mustAct(id, workflows.Action{Action: "start", Actor: alice})
		r.mustAct(id, workflows.Action{Action: "fulfil", Actor: alice, Resolution: "laptop handed over"})
		r.mustAct(id, workflows.Action{Action: "confirm", Actor: rita})
		r.finish(id, "request_approval")
	})

	t.Run("change lifecycle", func(t *testing.T) {
		r.t = t
		const id = "CHG-000101"
		in := changeInput("normal")
		in.ID, in.Num = id, 101
		r.open(id, workflows.ChangeWorkflow, in)
		require.Error(t, r.act(id, as(workflows.Action{Action: "submit"}, cab3)), "no submit before the assessment")
		r.mustAct(id, as(assess, cab3))
		r.mustAct(id, as(workflows.Action{Action: "submit"}, cab3))
		require.Error(t, r.act(id, as(workflows.Action{Action: "approve"}, cab3)), "the requester may not approve")
		r.mustAct(id, as(workflows.Action{Action: "approve", Comment: "ok"}, cab1))
		r.mustAct(id, as(workflows.Action{Action: "approve", Comment: "ok too"}, cab2))
		r.mustAct(id, as(workflows.Action{Action: "schedule", Start: "2026-12-01T22:00:00Z", End: "2026-12-01T23:00:00Z"}, alice))
		r.mustAct(id, as(workflows.Action{Action: "implement"}, alice))
		r.mustAct(id, as(workflows.Action{Action: "complete", Success: &no, Notes: "did not start"}, alice))
		r.mustAct(id, as(workflows.Action{Action: "back_out", Reason: "restored"}, alice))
		r.mustAct(id, as(workflows.Action{Action: "investigate", Summary: "the service needs a warm cache"}, alice))
		r.mustAct(id, as(workflows.Action{Action: "review", Summary: "test start-up in staging"}, tess))
		r.mustAct(id, as(workflows.Action{Action: "close"}, alice))
		r.finish(id, "change_lifecycle")
	})

	t.Run("problem to rfc", func(t *testing.T) {
		r.t = t
		const id = "PRB-000101"
		in := problemInput(t)
		in.ID, in.Num = id, 101
		r.open(id, workflows.ProblemWorkflow, in)
		r.mustAct(id, as(workflows.Action{Action: "investigate"}, alice))
		r.mustAct(id, as(workflows.Action{Action: "record_known_error", RootCause: "TLS library leak", Workaround: "restart nightly", NeedsChange: &yes}, alice))
		require.Error(t, r.act(id, as(workflows.Action{Action: "resolve", Resolution: "patched"}, alice)), "no resolve before the RFC")
		r.mustAct(id, as(workflows.Action{Action: "raise_rfc", Type: "normal", BackoutPlan: "downgrade"}, alice))
		rfc := r.rec.lastID("changes")
		r.mustAct(id, as(workflows.Action{Action: "resolve", Resolution: "patched"}, alice))
		r.mustAct(id, as(workflows.Action{Action: "review", Summary: "no repeats"}, tess))
		for _, a := range []workflows.Action{as(assess, alice), as(workflows.Action{Action: "submit"}, alice),
			as(workflows.Action{Action: "approve"}, cab1), as(workflows.Action{Action: "approve"}, cab2),
			as(workflows.Action{Action: "implement"}, alice), as(workflows.Action{Action: "complete", Success: &yes}, alice)} {
			r.mustAct(rfc, a)
		}
		r.waitFor(id, "rfc_completed")
		r.mustAct(id, as(workflows.Action{Action: "close"}, alice))
		r.finish(id, "problem_to_rfc")
	})

	t.Run("problem to change", func(t *testing.T) {
		r.t = t
		const id = "PRB-000102"
		in := problemInput(t)
		in.ID, in.Num, in.ChangeRules = id, 102, rules()
		r.open(id, workflows.ProblemWorkflow, in) // its incidents do not exist: the links fail and are logged
		r.mustAct(id, as(workflows.Action{Action: "investigate"}, alice))
		r.mustAct(id, as(workflows.Action{Action: "record_known_error", RootCause: "TLS library leak", Workaround: "restart nightly", NeedsChange: &yes}, alice))
		r.mustAct(id, as(workflows.Action{Action: "raise_change", Type: "normal", BackoutPlan: "downgrade", CIs: []string{"mail-app"}}, alice))
		chg := r.rec.lastID("changes")
		r.mustAct(id, as(workflows.Action{Action: "resolve", Resolution: "patched"}, alice))
		r.mustAct(id, as(workflows.Action{Action: "review", Summary: "no repeats"}, tess))
		require.Error(t, r.act(id, as(workflows.Action{Action: "close"}, alice)), "no close before the change completed")
		r.mustAct(chg, as(assess, alice))
		r.mustAct(chg, as(workflows.Action{Action: "submit"}, alice))
		r.mustAct(chg, as(workflows.Action{Action: "approve"}, cab1))
		r.mustAct(chg, as(workflows.Action{Action: "approve"}, cab2))
		r.mustAct(chg, as(workflows.Action{Action: "implement"}, alice))
		r.mustAct(chg, as(workflows.Action{Action: "complete", Success: &yes}, alice))
		r.waitFor(id, "rfc_completed")
		r.mustAct(id, as(workflows.Action{Action: "close"}, alice))
		r.finish(id, "problem_to_change")
		r.mustAct(chg, as(workflows.Action{Action: "review", Summary: "fine"}, tess))
		r.mustAct(chg, as(workflows.Action{Action: "close"}, alice))
		r.finish(chg, "change_from_problem")
	})

	t.Run("supplier, review and corrective action", func(t *testing.T) {
		r.t = t
		const id = "SUP-000101"
		in := supplierInput()
		in.ID, in.Num, in.Contract.CIs, in.Contract.End = id, 101, []string{"mail-app"}, ""
		in.Rules.Corrective.EffectivenessAfter = 0
		r.open(id, workflows.SupplierWorkflow, in)
		r.mustAct(id, as(workflows.Action{Action: "record_dispute", Summary: "March invoice"}, sam))
		r.mustAct(id, as(workflows.Action{Action: "work_dispute", Dispute: "D1", Notes: "credit note asked"}, sam))
		r.mustAct(id, as(workflows.Action{Action: "trigger_review"}, sam))
		r.waitFor(id, "review_opened")
		var srv string
		require.Eventually(t, func() bool { srv = r.rec.lastID("supplier-reviews"); return srv != "" }, 30*time.Second, 50*time.Millisecond)
		r.mustAct(srv, as(workflows.Action{Action: "record", Rating: 2, Decisions: "improve", Findings: []workflows.Finding{
			{Summary: "P1 resolution missed", Nonconformity: true}, {Summary: "late reports"}}}, sam))
		r.finish(srv, "supplier_review")
		var capa string
		require.Eventually(t, func() bool { capa = r.rec.lastID("corrective-actions"); return capa != "" }, 30*time.Second, 50*time.Millisecond)
		r.waitFor(id, "review_recorded")
		r.mustAct(id, as(workflows.Action{Action: "close_dispute", Dispute: "D1", Resolution: "credited"}, sam))
		r.mustAct(id, as(workflows.Action{Action: "terminate", Reason: "exit"}, paula))
		r.finish(id, "supplier")
		for _, a := range []workflows.Action{
			as(workflows.Action{Action: "confirm"}, paula),
			as(workflows.Action{Action: "analyse_cause", RootCause: "no weekend cover"}, paula),
			as(workflows.Action{Action: "evaluate", NeedsChange: &yes, Reason: "recurring"}, paula),
			as(workflows.Action{Action: "plan", Plan: "on-call", Assignee: "sam", Start: time.Now().Add(240 * time.Hour).UTC().Format(time.RFC3339)}, paula),
			as(workflows.Action{Action: "record_results", Results: "rota signed"}, sam),
		} {
			r.mustAct(capa, a)
		}
		r.waitFor(capa, "effectiveness_check_due")
		r.mustAct(capa, as(workflows.Action{Action: "verify", Success: &no, Notes: "still missed"}, paula))
		r.mustAct(capa, as(workflows.Action{Action: "analyse_cause", RootCause: "no console access"}, paula))
		r.mustAct(capa, as(workflows.Action{Action: "no_action", Reason: "supplier exits"}, paula))
		r.mustAct(capa, as(workflows.Action{Action: "approve_no_action"}, tess))
		r.finish(capa, "corrective_from_review")
	})

	t.Run("audit", func(t *testing.T) {
		r.t = t
		const id = "AUD-000101"
		in := auditInput()
		in.ID, in.Num, in.Auditor, in.Rules.EffectivenessAfter = id, 101, "sam", 0
		r.open(id, workflows.AuditWorkflow, in)
		r.mustAct(id, as(workflows.Action{Action: "reassign_auditor", Assignee: "ivan"}, paula))
		r.mustAct(id, as(workflows.Action{Action: "start"}, ivan))
		prev := r.rec.lastID("corrective-actions")
		r.mustAct(id, as(workflows.Action{Action: "record_finding", Findings: []workflows.Finding{{Summary: "no review", Nonconformity: true}}}, ivan))
		var capa string
		require.Eventually(t, func() bool { capa = r.rec.lastID("corrective-actions"); return capa != prev }, 30*time.Second, 50*time.Millisecond)
		r.mustAct(id, as(workflows.Action{Action: "report", Summary: "one nonconformity"}, ivan))
		for _, a := range []workflows.Action{
			as(workflows.Action{Action: "confirm"}, paula),
			as(workflows.Action{Action: "analyse_cause", RootCause: "no review step"}, paula),
			as(workflows.Action{Action: "evaluate", NeedsChange: &yes, Reason: "required"}, paula),
			as(workflows.Action{Action: "plan", Plan: "add the step", Assignee: "sam", Start: time.Now().Add(240 * time.Hour).UTC().Format(time.RFC3339)}, paula),
			as(workflows.Action{Action: "record_results", Results: "step enforced"}, sam),
		} {
			r.mustAct(capa, a)
		}
		r.waitFor(capa, "effectiveness_check_due")
		r.mustAct(capa, as(workflows.Action{Action: "verify", Success: &yes, Notes: "reviewed since"}, paula))
		r.finish(capa, "corrective_from_audit")
		r.finish(id, "audit")
	})

	t.Run("change with release", func(t *testing.T) {
		r.t = t
		const id = "CHG-000102"
		in := ruledChange("normal")
		in.ID, in.Num = id, 102
		in.Rules.ApprovalTimeout = time.Second
		in.Rules.Release.EarlyLife = time.Second
		in.CIs = []string{"mail-app"}
		in.CIUpdates = []activities.CIUpdate{{ID: "mail-app", Version: "2.5"}}
		r.open(id, workflows.ChangeWorkflow, in)
		r.mustAct(id, as(assess, cab3))
		r.mustAct(id, as(workflows.Action{Action: "submit"}, cab3))
		r.waitFor(id, "approval_escalated")
		r.mustAct(id, as(workflows.Action{Action: "approve"}, cab1))
		r.mustAct(id, as(workflows.Action{Action: "approve"}, cab2))
		now := time.Now().UTC()
		r.mustAct(id, as(workflows.Action{Action: "schedule", Start: now.Add(-time.Minute).Format(time.RFC3339), End: now.Add(time.Hour).Format(time.RFC3339)}, alice))
		r.mustAct(id, as(workflows.Action{Action: "plan_release", Title: "Mail 2.5", AcceptanceCriteria: []string{"mail flows"}}, alice))
		rel := r.rec.lastID("releases")
		r.mustAct(rel, as(workflows.Action{Action: "build", Version: "2.5"}, alice))
		r.mustAct(rel, as(workflows.Action{Action: "test", Passed: &no, Results: "mail lost"}, alice))
		r.mustAct(rel, as(workflows.Action{Action: "decide", Accept: &yes, Comment: "known error, accepted"}, tess))
		r.mustAct(rel, as(workflows.Action{Action: "approve"}, cab1))
		r.mustAct(id, as(workflows.Action{Action: "implement"}, alice))
		r.waitFor(rel, "change_implementing")
		r.mustAct(rel, as(workflows.Action{Action: "deploy"}, alice))
		r.mustAct(id, as(workflows.Action{Action: "complete", Success: &yes, Notes: "live"}, alice))
		r.mustAct(id, as(workflows.Action{Action: "review", Summary: "fine"}, tess))
		r.mustAct(id, as(workflows.Action{Action: "close"}, alice))
		r.finish(id, "change_release_cmdb")
		r.waitFor(rel, "early_life_ended")
		r.mustAct(rel, as(workflows.Action{Action: "review", Summary: "quiet"}, tess))
		r.mustAct(rel, as(workflows.Action{Action: "close"}, alice))
		r.finish(rel, "release_lifecycle")
		require.Contains(t, mem.actions(id), "cmdb_updated")
	})
}

// The corpus is only worth having if the replayer notices a change: a
// workflow that issues one command the recorded run did not must fail.
func TestReplayCatchesAnIncompatibleChange(t *testing.T) {
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(func(ctx workflow.Context, in workflows.IncidentInput) error {
		if err := workflow.Sleep(ctx, time.Minute); err != nil { // not in the recorded run
			return err
		}
		return workflows.IncidentWorkflow(ctx, in)
	}, workflow.RegisterOptions{Name: "IncidentWorkflow"})
	err := r.ReplayWorkflowHistoryFromJSONFile(quietLogger(), filepath.Join("testdata", "history_incident_lifecycle.json"))
	require.Error(t, err)
	require.Contains(t, err.Error(), "nondeterministic")
}
