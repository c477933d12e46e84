package workflows_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/workflows"
)

const (
	minute = time.Minute
	hour   = time.Hour
	second = time.Second
)

func startWork() workflows.Action { return workflows.Action{Action: "start", Actor: alice} }

func resolve() workflows.Action {
	return workflows.Action{Action: "resolve", Actor: alice, Resolution: "restarted the mail server"}
}

func TestIncidentOpens(t *testing.T) {
	h := newHarness(t, t0)
	var opened workflows.Incident
	var openedErr error
	openedDone := false
	h.at(0, func() {
		h.env.UpdateWorkflow(workflows.UpdateOpened, "opened", &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { openedErr = err },
			OnComplete: func(v any, err error) {
				openedDone, openedErr = true, err
				opened, _ = v.(workflows.Incident)
			},
		})
	})
	after := snapshotAt[workflows.Incident](h, minute)
	h.stopAt(2 * minute)
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, incidentInput(incidentPolicy(t), "high", "high"))
	h.requireCanceled()

	require.True(t, openedDone, "the opened update never answered")
	require.NoError(t, openedErr)
	require.Equal(t, workflows.StatusLogged, opened.Status)
	require.Equal(t, "P1", opened.Priority)

	all := h.all()
	require.Len(t, all, 1, "opening is one transition")
	p := all[0]
	require.Equal(t, activities.Entry{
		Seq: 1, At: t0, Actor: "rita", Action: "open", From: "", To: workflows.StatusLogged,
		Detail: map[string]any{"source": "api", "priority": "P1", "group": "service-desk"},
	}, p.Entry)
	require.Empty(t, p.Notes)
	row := p.Case
	require.Equal(t, "INC-000001", row.ID)
	require.Equal(t, "incidents", row.Kind)
	require.Equal(t, int64(1), row.Num)
	require.Equal(t, int64(1), row.Seq)
	require.Equal(t, "Mail is down", row.Title)
	require.Equal(t, workflows.StatusLogged, row.Status)
	require.Equal(t, "P1", row.Priority)
	require.Equal(t, "email", row.Service)
	require.Equal(t, "service-desk", row.Group)
	require.Equal(t, "rita", row.CreatedBy)
	require.Equal(t, "rita", row.Caller)
	require.False(t, row.Breached)
	require.False(t, row.Major)
	requireTime(t, t0, row.CreatedAt)
	requireTime(t, t0, row.UpdatedAt)

	rec := rowRecord[workflows.Incident](t, p)
	requireTime(t, t0.Add(15*minute), rec.SLA.ResponseDue)
	requireTime(t, t0.Add(4*hour), rec.SLA.ResolutionDue)
	require.Nil(t, rec.SLA.RespondedAt)
	require.NotNil(t, rec.SLA.Breached, "breached is [] rather than null")
	require.Empty(t, rec.SLA.Breached)
	require.NotNil(t, rec.Links)
	require.Equal(t, 0, rec.EscalationLevel)
	require.Equal(t, "assignment and first response by service-desk until 2026-03-02T08:15:00Z", rec.WaitingFor)

	q := after.get(t)
	require.Equal(t, rec.Status, q.Status)
	requireTime(t, rec.SLA.ResolutionDue, q.SLA.ResolutionDue)
	require.Equal(t, 1, after.n)
}

func TestIncidentResponseBreachEscalatesAlongTheFunctionalPath(t *testing.T) {
	h := newHarness(t, t0)
	before := snapshotAt[workflows.Incident](h, 15*minute-second)
	first := snapshotAt[workflows.Incident](h, 15*minute+second)
	next := snapshotAt[workflows.Incident](h, 30*minute+second)
	later := snapshotAt[workflows.Incident](h, 2*hour)
	h.stopAt(2*hour + second)
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, incidentInput(incidentPolicy(t), "high", "high"))
	h.requireCanceled()

	b := before.get(t)
	require.Equal(t, 0, b.EscalationLevel)
	require.Equal(t, "service-desk", b.Group)
	require.Empty(t, b.SLA.Breached)
	require.Empty(t, h.entriesBetween(t0.Add(time.Nanosecond), t0.Add(15*minute)), "nothing happens before the response target")

	f := first.get(t)
	require.Equal(t, 1, f.EscalationLevel)
	require.Equal(t, "second-line", f.Group)
	require.Equal(t, []string{"response"}, f.SLA.Breached)
	require.Equal(t, workflows.StatusLogged, f.Status)

	s := next.get(t)
	require.Equal(t, 2, s.EscalationLevel)
	require.Equal(t, "third-line", s.Group)
	require.Equal(t, []string{"response"}, s.SLA.Breached, "the breach is recorded once")

	br := h.breaches("response")
	require.GreaterOrEqual(t, len(br), 2)
	e1, e2 := br[0], br[1]
	requireTime(t, t0.Add(15*minute), e1.At)
	require.Equal(t, "system", e1.Actor)
	require.Equal(t, workflows.StatusLogged, e1.From)
	require.Equal(t, workflows.StatusLogged, e1.To)
	require.Equal(t, "2026-03-02T08:15:00Z", e1.Detail["due"])
	require.Equal(t, "service-desk", e1.Detail["from_group"])
	require.Equal(t, "second-line", e1.Detail["to_group"])
	require.Equal(t, 1, e1.Detail["level"])
	p1 := h.projectionOf(e1.Seq)
	require.Equal(t, "second-line", p1.Case.Group)
	require.True(t, p1.Case.Breached)
	// The manager hears by mail; the new group's Slack channel sees it.
	require.Len(t, p1.Notes, 2)
	require.Equal(t, "mona", p1.Notes[0].Recipient)
	require.Equal(t, "escalation", p1.Notes[0].Event)
	require.Equal(t, activities.Note{Recipient: "group:second-line", Channel: "slack", Event: "escalation",
		Subject: "[INC-000001] escalated to second-line: Mail is down", Body: "escalated to second-line: Mail is down"}, p1.Notes[1])
	require.Contains(t, p1.Notes[0].Subject, "INC-000001")

	requireTime(t, t0.Add(30*minute), e2.At)
	require.Equal(t, "second-line", e2.Detail["from_group"])
	require.Equal(t, "third-line", e2.Detail["to_group"])
	require.Equal(t, 2, e2.Detail["level"])
	require.Equal(t, []string{"mona", "group:third-line"}, recipients(h.projectionOf(e2.Seq).Notes))

	// The path ends at third-line: no further group, level or notice.
	l := later.get(t)
	require.Equal(t, 2, l.EscalationLevel)
	require.Equal(t, "third-line", l.Group)
	require.Equal(t, []string{"mona", "mona"}, recipients(h.notes("escalation")))
	require.Empty(t, h.entries("sla_warning"), "the warning is due at 3h")
}

func TestIncidentStartBeforeResponseTargetPreventsTheBreach(t *testing.T) {
	h := newHarness(t, t0)
	ok := h.act(10*minute, startWork())
	snap := snapshotAt[workflows.Incident](h, 2*hour)
	h.stopAt(2*hour + second)
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, incidentInput(incidentPolicy(t), "high", "high"))
	h.requireCanceled()
	requireApplied(t, ok, "start")

	require.Equal(t, []string{"open", "start"}, h.actions())
	st := h.entries("start")[0]
	requireTime(t, t0.Add(10*minute), st.At)
	require.Equal(t, "alice", st.Actor)
	require.Equal(t, workflows.StatusLogged, st.From)
	require.Equal(t, workflows.StatusInProgress, st.To)

	r := snap.get(t)
	require.Equal(t, workflows.StatusInProgress, r.Status)
	require.Equal(t, "alice", r.Assignee)
	require.Equal(t, "service-desk", r.Group)
	require.Equal(t, 0, r.EscalationLevel)
	require.Empty(t, r.SLA.Breached)
	require.NotNil(t, r.SLA.RespondedAt)
	requireTime(t, t0.Add(10*minute), *r.SLA.RespondedAt)
	require.Equal(t, "resolution by alice until 2026-03-02T12:00:00Z", r.WaitingFor)
}

func TestIncidentEarlyWarningOnce(t *testing.T) {
	h := newHarness(t, t0)
	h.act(5*minute, startWork())
	before := snapshotAt[workflows.Incident](h, 3*hour-second)
	after := snapshotAt[workflows.Incident](h, 3*hour+second)
	h.stopAt(12 * hour)
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, incidentInput(incidentPolicy(t), "high", "high"))
	h.requireCanceled()

	require.False(t, before.get(t).SLA.Warned)
	require.True(t, after.get(t).SLA.Warned)

	ws := h.entries("sla_warning")
	require.Len(t, ws, 1, "the warning is given once")
	w := ws[0]
	requireTime(t, t0.Add(3*hour), w.At, "75% of the 4h resolution target")
	require.Equal(t, "system", w.Actor)
	require.Equal(t, workflows.StatusInProgress, w.From)
	require.Equal(t, workflows.StatusInProgress, w.To)
	require.Equal(t, "resolution", w.Detail["target"])
	require.Equal(t, "2026-03-02T12:00:00Z", w.Detail["due"])
	require.Equal(t, "mona", w.Detail["notified"])

	notes := h.notes("sla_warning")
	require.Len(t, notes, 1)
	require.Equal(t, "mona", notes[0].Recipient)
	require.Equal(t, notes, h.projectionOf(w.Seq).Notes)
	require.Contains(t, notes[0].Body, "2026-03-02T12:00:00Z")
}

func TestIncidentResolutionBreachEscalatesHierarchically(t *testing.T) {
	h := newHarness(t, t0)
	h.act(5*minute, startWork())
	before := snapshotAt[workflows.Incident](h, 4*hour-second)
	first := snapshotAt[workflows.Incident](h, 4*hour+second)
	between := snapshotAt[workflows.Incident](h, 8*hour-second)
	top := snapshotAt[workflows.Incident](h, 8*hour+second)
	h.stopAt(30 * hour)
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, incidentInput(incidentPolicy(t), "high", "high"))
	h.requireCanceled()

	b := before.get(t)
	require.Equal(t, 0, b.HierarchicalLevel)
	require.Empty(t, b.SLA.Breached)

	f := first.get(t)
	require.Equal(t, 1, f.HierarchicalLevel)
	require.Equal(t, []string{"resolution"}, f.SLA.Breached)
	require.Equal(t, 0, f.EscalationLevel, "hierarchical escalation leaves the group alone")
	require.Equal(t, "service-desk", f.Group)

	br := h.breaches("resolution")
	require.Len(t, br, 1)
	e := br[0]
	requireTime(t, t0.Add(4*hour), e.At)
	require.Equal(t, "system", e.Actor)
	require.Equal(t, "mona", e.Detail["escalated_to"])
	require.Equal(t, 1, e.Detail["level"])
	require.Equal(t, "2026-03-02T12:00:00Z", e.Detail["due"])
	p := h.projectionOf(e.Seq)
	require.True(t, p.Case.Breached)
	require.Len(t, p.Notes, 1)
	require.Equal(t, "mona", p.Notes[0].Recipient)
	require.Equal(t, "escalation", p.Notes[0].Event)

	require.Equal(t, 1, between.get(t).HierarchicalLevel)
	require.Equal(t, 2, top.get(t).HierarchicalLevel)

	tops := h.entries("escalate_hierarchical")
	require.Len(t, tops, 1)
	requireTime(t, t0.Add(8*hour), tops[0].At)
	require.Equal(t, []string{"tess"}, tops[0].Detail["escalated_to"])
	require.Equal(t, 2, tops[0].Detail["level"])
	pt := h.projectionOf(tops[0].Seq)
	require.Equal(t, []string{"tess"}, recipients(pt.Notes))
	require.Equal(t, "escalation", pt.Notes[0].Event)

	require.Empty(t, h.breaches("response"), "work started in time")
	require.Equal(t, []string{"open", "start", "sla_warning", "sla_breach", "escalate_hierarchical"}, h.actions(),
		"nothing more happens by itself once top management knows")
}

func TestIncidentPendingPausesBothClocks(t *testing.T) {
	h := newHarness(t, t0)
	h.act(5*minute, startWork())
	pend := h.act(1*hour, workflows.Action{Action: "pend", Actor: alice, Reason: "waiting for the vendor"})
	during := snapshotAt[workflows.Incident](h, 3*hour-second)
	resume := h.act(3*hour, workflows.Action{Action: "resume", Actor: alice})
	after := snapshotAt[workflows.Incident](h, 3*hour+second)
	h.stopAt(7 * hour)
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, incidentInput(incidentPolicy(t), "high", "high"))
	h.requireCanceled()
	requireApplied(t, pend, "pend")
	requireApplied(t, resume, "resume")

	d := during.get(t)
	require.Equal(t, workflows.StatusPending, d.Status)
	require.True(t, d.SLA.Paused)
	require.False(t, d.SLA.Warned)
	require.Equal(t, "resume: the SLA clocks are paused", d.WaitingFor)
	require.Empty(t, h.entriesBetween(t0.Add(hour+second), t0.Add(3*hour)), "no timer fires while pending")

	a := after.get(t)
	require.Equal(t, workflows.StatusInProgress, a.Status)
	require.False(t, a.SLA.Paused)
	requireTime(t, t0.Add(15*minute+2*hour), a.SLA.ResponseDue, "response due moves by the 2h paused")
	requireTime(t, t0.Add(6*hour), a.SLA.ResolutionDue, "resolution due moves by the 2h paused")

	pe := h.entries("pend")[0]
	require.Equal(t, workflows.StatusInProgress, pe.From)
	require.Equal(t, workflows.StatusPending, pe.To)
	require.Equal(t, "waiting for the vendor", pe.Detail["reason"])
	re := h.entries("resume")[0]
	require.Equal(t, workflows.StatusPending, re.From)
	require.Equal(t, workflows.StatusInProgress, re.To)

	ws := h.entries("sla_warning")
	require.Len(t, ws, 1)
	requireTime(t, t0.Add(5*hour), ws[0].At, "warning at 3h of working time plus 2h paused")
	br := h.breaches("resolution")
	require.Len(t, br, 1)
	requireTime(t, t0.Add(6*hour), br[0].At)
	require.Empty(t, h.breaches("response"))
}

func TestIncidentBusinessHours(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	require.NoError(t, err)
	friday := time.Date(2026, 6, 5, 17, 0, 0, 0, tokyo) // a Friday
	for _, tc := range []struct {
		name     string
		holidays []string
		due      time.Time
	}{
		{"monday", nil, time.Date(2026, 6, 8, 12, 0, 0, 0, tokyo)},
		{"monday holiday", []string{"2026-06-08"}, time.Date(2026, 6, 9, 12, 0, 0, 0, tokyo)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pol := incidentPolicy(t)
			pol.Calendar = policy.Calendar{Timezone: "Asia/Tokyo", Days: []string{"mon", "tue", "wed", "thu", "fri"},
				Hours: "09:00-18:00", Holidays: tc.holidays}
			require.NoError(t, pol.Calendar.Validate())
			h := newHarness(t, friday)
			h.act(5*minute, startWork())
			opened := snapshotAt[workflows.Incident](h, minute)
			justBefore := snapshotAt[workflows.Incident](h, tc.due.Add(-minute).Sub(friday))
			h.stopAt(tc.due.Add(minute).Sub(friday))
			h.env.ExecuteWorkflow(workflows.IncidentWorkflow, incidentInput(pol, "high", "high"))
			h.requireCanceled()

			o := opened.get(t)
			requireTime(t, time.Date(2026, 6, 5, 17, 15, 0, 0, tokyo), o.SLA.ResponseDue)
			requireTime(t, tc.due, o.SLA.ResolutionDue, "1h on Friday and 3h on the next working day")

			jb := justBefore.get(t)
			require.Empty(t, jb.SLA.Breached, "at 11:59 the target has not passed")
			require.Equal(t, 0, jb.HierarchicalLevel)
			require.True(t, jb.SLA.Warned, "the warning came at 11:00 local")

			ws := h.entries("sla_warning")
			require.Len(t, ws, 1)
			requireTime(t, tc.due.Add(-hour), ws[0].At)
			br := h.breaches("resolution")
			require.Len(t, br, 1)
			requireTime(t, tc.due, br[0].At, "the breach fires at the due instant")
			require.Empty(t, h.breaches("response"))
		})
	}
}

func TestIncidentReclassifyReplansFromLogging(t *testing.T) {
	h := newHarness(t, t0)
	low := snapshotAt[workflows.Incident](h, minute)
	re := h.act(10*minute, workflows.Action{Action: "reclassify", Actor: alice, Impact: "high", Urgency: "high", Reason: "whole company affected"})
	high := snapshotAt[workflows.Incident](h, 10*minute+second)
	h.stopAt(20 * minute)
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, incidentInput(incidentPolicy(t), "low", "low"))
	h.requireCanceled()
	requireApplied(t, re, "reclassify")

	l := low.get(t)
	require.Equal(t, "P4", l.Priority)
	requireTime(t, t0.Add(8*hour), l.SLA.ResponseDue)
	requireTime(t, t0.Add(5*24*hour), l.SLA.ResolutionDue)

	hi := high.get(t)
	require.Equal(t, "P1", hi.Priority)
	require.Equal(t, "high", hi.Impact)
	require.Equal(t, "high", hi.Urgency)
	requireTime(t, t0.Add(15*minute), hi.SLA.ResponseDue, "due times count from the logging time")
	requireTime(t, t0.Add(4*hour), hi.SLA.ResolutionDue)

	e := h.entries("reclassify")
	require.Len(t, e, 1)
	require.Equal(t, "P4", e[0].Detail["from_priority"])
	require.Equal(t, "P1", e[0].Detail["to_priority"])
	require.Equal(t, "high", e[0].Detail["impact"])
	require.Equal(t, "whole company affected", e[0].Detail["reason"])
	require.Equal(t, "P1", h.projectionOf(e[0].Seq).Case.Priority)

	br := h.breaches("response")
	require.Len(t, br, 1, "the new response target passes at 15m")
	requireTime(t, t0.Add(15*minute), br[0].At)
}

func TestIncidentAutoClosesAfterResolve(t *testing.T) {
	h := newHarness(t, t0)
	h.act(5*minute, startWork())
	res := h.act(hour, resolve())
	resolved := snapshotAt[workflows.Incident](h, hour+second)
	before := snapshotAt[workflows.Incident](h, 73*hour-second)
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, incidentInput(incidentPolicy(t), "high", "high"))
	requireApplied(t, res, "resolve")
	h.requireFinished()

	r := resolved.get(t)
	require.Equal(t, workflows.StatusResolved, r.Status)
	require.Equal(t, "restarted the mail server", r.Resolution)
	require.NotNil(t, r.ResolvedAt)
	requireTime(t, t0.Add(hour), *r.ResolvedAt)
	require.Equal(t, "caller confirmation until 2026-03-05T09:00:00Z", r.WaitingFor)
	require.Equal(t, workflows.StatusResolved, before.get(t).Status)

	ac := h.entries("auto_close")
	require.Len(t, ac, 1)
	requireTime(t, t0.Add(73*hour), ac[0].At, "72h after resolve")
	require.Equal(t, "system", ac[0].Actor)
	require.Equal(t, workflows.StatusResolved, ac[0].From)
	require.Equal(t, workflows.StatusClosed, ac[0].To)
	require.Equal(t, "72h0m0s", ac[0].Detail["after"])
	require.Equal(t, workflows.StatusClosed, h.last().Case.Status)

	c := h.incident()
	require.Equal(t, workflows.StatusClosed, c.Status)
	require.NotNil(t, c.ClosedAt)
	requireTime(t, t0.Add(73*hour), *c.ClosedAt)
	requireTime(t, t0.Add(73*hour), h.env.Now(), "the workflow ends at the auto-close")
	require.Equal(t, []string{"open", "start", "resolve", "auto_close"}, h.actions(),
		"no SLA timer runs while resolved")
}

func TestIncidentConfirmClosesAtOnce(t *testing.T) {
	h := newHarness(t, t0)
	h.act(5*minute, startWork())
	h.act(hour, resolve())
	conf := h.act(2*hour, workflows.Action{Action: "confirm", Actor: rita})
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, incidentInput(incidentPolicy(t), "high", "high"))
	requireApplied(t, conf, "confirm")
	h.requireFinished()

	require.Equal(t, []string{"open", "start", "resolve", "confirm"}, h.actions())
	e := h.entries("confirm")[0]
	requireTime(t, t0.Add(2*hour), e.At)
	require.Equal(t, "rita", e.Actor)
	require.Equal(t, workflows.StatusResolved, e.From)
	require.Equal(t, workflows.StatusClosed, e.To)
	c := h.incident()
	require.Equal(t, workflows.StatusClosed, c.Status)
	requireTime(t, t0.Add(2*hour), *c.ClosedAt)
	requireTime(t, t0.Add(2*hour), h.env.Now(), "the workflow ends at the confirmation")
}

func TestIncidentReopenCancelsAutoClose(t *testing.T) {
	h := newHarness(t, t0)
	h.act(5*minute, startWork())
	h.act(hour, resolve())
	reopen := h.act(2*hour, workflows.Action{Action: "reopen", Actor: rita, Reason: "still no mail"})
	reopened := snapshotAt[workflows.Incident](h, 2*hour+second)
	late := snapshotAt[workflows.Incident](h, 80*hour)
	h.stopAt(80*hour + second)
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, incidentInput(incidentPolicy(t), "high", "high"))
	h.requireCanceled()
	requireApplied(t, reopen, "reopen")

	r := reopened.get(t)
	require.Equal(t, workflows.StatusInProgress, r.Status)
	require.Nil(t, r.ResolvedAt)
	require.Empty(t, r.Resolution)
	require.False(t, r.SLA.Paused)
	requireTime(t, t0.Add(5*hour), r.SLA.ResolutionDue, "the hour with the caller does not count")

	e := h.entries("reopen")[0]
	require.Equal(t, workflows.StatusResolved, e.From)
	require.Equal(t, workflows.StatusInProgress, e.To)
	require.Equal(t, "still no mail", e.Detail["reason"])

	require.Equal(t, workflows.StatusInProgress, late.get(t).Status)
	require.Empty(t, h.entries("auto_close"), "a reopened incident does not close by itself")
	require.Empty(t, h.entries("confirm"))
}

func TestIncidentMajor(t *testing.T) {
	declare := workflows.Action{Action: "declare_major", Actor: alice, Manager: "mona"}
	review := workflows.Action{Action: "review_major", Actor: tess, Summary: "disk full", Improvements: "alert on disk usage"}

	t.Run("declare notifies top management and review unlocks confirm", func(t *testing.T) {
		h := newHarness(t, t0)
		h.act(5*minute, startWork())
		dec := h.act(10*minute, declare)
		declared := snapshotAt[workflows.Incident](h, 10*minute+second)
		h.act(hour, resolve())
		resolved := snapshotAt[workflows.Incident](h, hour+second)
		early := h.act(2*hour, workflows.Action{Action: "confirm", Actor: rita})
		earlyStaff := h.act(2*hour+minute, workflows.Action{Action: "confirm", Actor: alice})
		rev := h.act(3*hour, review)
		conf := h.act(4*hour, workflows.Action{Action: "confirm", Actor: rita})
		h.env.ExecuteWorkflow(workflows.IncidentWorkflow, incidentInput(incidentPolicy(t), "high", "high"))
		h.requireFinished()
		requireApplied(t, dec, "declare_major")
		requireRejected(t, early, workflows.ErrConflict, "confirm before review")
		requireRejected(t, earlyStaff, workflows.ErrConflict, "confirm by an agent before review")
		requireApplied(t, rev, "review_major")
		requireApplied(t, conf, "confirm after review")

		d := declared.get(t)
		require.True(t, d.Major)
		require.Equal(t, "mona", d.MajorManager)

		de := h.entries("declare_major")
		require.Len(t, de, 1)
		require.Equal(t, "mona", de[0].Detail["manager"])
		require.Equal(t, []string{"tess"}, de[0].Detail["notified"])
		p := h.projectionOf(de[0].Seq)
		require.True(t, p.Case.Major)
		notes := h.notes("major_declared")
		require.ElementsMatch(t, []string{"mona", "tess"}, recipients(notes))
		for _, n := range notes {
			if n.Recipient == "tess" {
				require.Contains(t, n.Body, "manager mona", "top management learns who manages it")
			}
		}

		r := resolved.get(t)
		require.Equal(t, "major incident review by mona", r.WaitingFor)
		restored := h.notes("major_restored")
		require.Equal(t, []string{"mona"}, recipients(restored))

		require.Equal(t, []string{"open", "start", "declare_major", "resolve", "review_major", "confirm"}, h.actions())
		re := h.entries("review_major")[0]
		require.Equal(t, "tess", re.Actor)
		require.Equal(t, "disk full", re.Detail["summary"])
		c := h.incident()
		require.Equal(t, workflows.StatusClosed, c.Status)
		require.NotNil(t, c.MajorReview)
		require.Equal(t, "tess", c.MajorReview.By)
		requireTime(t, t0.Add(3*hour), c.MajorReview.At)
	})

	t.Run("an unreviewed major incident does not auto-close", func(t *testing.T) {
		h := newHarness(t, t0)
		h.act(5*minute, startWork())
		h.act(10*minute, declare)
		h.act(hour, resolve())
		late := snapshotAt[workflows.Incident](h, 200*hour)
		h.stopAt(200*hour + second)
		h.env.ExecuteWorkflow(workflows.IncidentWorkflow, incidentInput(incidentPolicy(t), "high", "high"))
		h.requireCanceled()
		l := late.get(t)
		require.Equal(t, workflows.StatusResolved, l.Status)
		require.Nil(t, l.ClosedAt)
		require.Empty(t, h.entries("auto_close"))
		require.Equal(t, []string{"open", "start", "declare_major", "resolve"}, h.actions())
	})
}

func TestIncidentValidators(t *testing.T) {
	h := newHarness(t, t0)
	h.act(5*minute, startWork())
	cases := []struct {
		name string
		at   time.Duration
		a    workflows.Action
		want string
	}{
		{"requester resolves", 10 * minute, workflows.Action{Action: "resolve", Actor: rita, Resolution: "fixed it myself"}, workflows.ErrForbidden},
		{"requester starts", 11 * minute, workflows.Action{Action: "start", Actor: rita}, workflows.ErrForbidden},
		{"confirm while in progress", 12 * minute, workflows.Action{Action: "confirm", Actor: rita}, workflows.ErrConflict},
		{"resume while in progress", 13 * minute, workflows.Action{Action: "resume", Actor: alice}, workflows.ErrConflict},
		{"unknown action", 14 * minute, workflows.Action{Action: "frobnicate", Actor: alice}, workflows.ErrInvalid},
		{"reclassify with impact extreme", 15*minute + 30*second, workflows.Action{Action: "reclassify", Actor: alice, Impact: "extreme", Urgency: "high"}, workflows.ErrInvalid},
		{"resolve without resolution", 16 * minute, workflows.Action{Action: "resolve", Actor: alice}, workflows.ErrInvalid},
		{"comment without body", 17 * minute, workflows.Action{Action: "comment", Actor: rita}, workflows.ErrInvalid},
		{"other requester comments", 18 * minute, workflows.Action{Action: "comment", Actor: rob, Body: "me too"}, workflows.ErrForbidden},
		{"requester confirms someone else's incident", hour + minute, workflows.Action{Action: "confirm", Actor: rob}, workflows.ErrForbidden},
		{"requester reopens someone else's incident", hour + 2*minute, workflows.Action{Action: "reopen", Actor: rob, Reason: "no"}, workflows.ErrForbidden},
		{"resolve a resolved incident", hour + 3*minute, resolve(), workflows.ErrConflict},
		{"review a non-major incident", hour + 4*minute, workflows.Action{Action: "review_major", Actor: tess, Summary: "x"}, workflows.ErrConflict},
	}
	outcomes := make([]*outcome, len(cases))
	counts := make([][2]*snap[workflows.Incident], len(cases))
	for i, c := range cases {
		counts[i][0] = snapshotAt[workflows.Incident](h, c.at-second)
		outcomes[i] = h.act(c.at, c.a)
		counts[i][1] = snapshotAt[workflows.Incident](h, c.at+second)
	}
	h.act(hour, resolve())
	h.stopAt(2 * hour)
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, incidentInput(incidentPolicy(t), "high", "high"))
	h.requireCanceled()

	for i, c := range cases {
		requireRejected(t, outcomes[i], c.want, c.name)
		counts[i][0].get(t)
		counts[i][1].get(t)
		require.Equal(t, counts[i][0].n, counts[i][1].n, "%s: a rejected update projects nothing", c.name)
	}
	require.Equal(t, []string{"open", "start", "resolve"}, h.actions())
	r := h.incident()
	require.Equal(t, workflows.StatusResolved, r.Status)
	require.Equal(t, "P1", r.Priority)
}

func TestIncidentAgentActions(t *testing.T) {
	h := newHarness(t, t0)
	assign := h.act(2*minute, workflows.Action{Action: "assign", Actor: alice, Assignee: "bob", Group: "second-line"})
	comment := h.act(3*minute, workflows.Action{Action: "comment", Actor: rita, Body: "it is urgent"})
	link := h.act(4*minute, workflows.Action{Action: "link", Actor: alice, Kind: "problems", ID: "PRB-000001", Relation: "caused_by"})
	dupLink := h.act(5*minute, workflows.Action{Action: "link", Actor: alice, Kind: "problems", ID: "PRB-000001", Relation: "caused_by"})
	esc := h.act(6*minute, workflows.Action{Action: "escalate", Actor: alice, Reason: "needs a specialist"})
	escEnd := h.act(7*minute, workflows.Action{Action: "escalate", Actor: alice, Reason: "again"})
	snap := snapshotAt[workflows.Incident](h, 8*minute)
	h.stopAt(9 * minute)
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, incidentInput(incidentPolicy(t), "high", "high"))
	h.requireCanceled()
	requireApplied(t, assign, "assign")
	requireApplied(t, comment, "comment by the caller")
	requireApplied(t, link, "link")
	requireRejected(t, dupLink, workflows.ErrConflict, "the same link twice")
	requireApplied(t, esc, "escalate")
	requireRejected(t, escEnd, workflows.ErrConflict, "escalate past the path's end")

	require.Equal(t, []string{"open", "assign", "comment", "link", "escalate"}, h.actions())
	a := h.entries("assign")[0]
	require.Equal(t, workflows.StatusLogged, a.From)
	require.Equal(t, workflows.StatusAssigned, a.To)
	require.Equal(t, []string{"bob"}, recipients(h.notes("assigned")))
	require.Equal(t, "it is urgent", h.entries("comment")[0].Detail["body"])
	e := h.entries("escalate")[0]
	require.Equal(t, "second-line", e.Detail["from_group"])
	require.Equal(t, "third-line", e.Detail["to_group"])

	r := snap.get(t)
	require.Equal(t, workflows.StatusAssigned, r.Status)
	require.Equal(t, "third-line", r.Group)
	require.Empty(t, r.Assignee, "escalation hands the incident to the new group")
	require.Equal(t, 1, r.EscalationLevel)
	require.Equal(t, []workflows.Link{{Kind: "problems", ID: "PRB-000001", Relation: "caused_by"}}, r.Links)
	require.True(t, strings.HasPrefix(r.WaitingFor, "first response by third-line until"), r.WaitingFor)
}

func TestIncidentRefusedSignalIsRecorded(t *testing.T) {
	h := newHarness(t, t0)
	h.at(2*minute, func() {
		h.env.SignalWorkflow(workflows.SignalAct, workflows.Action{Action: "resolve", Actor: rita, Resolution: "works again", Source: "email"})
	})
	h.at(3*minute, func() {
		h.env.SignalWorkflow(workflows.SignalAct, workflows.Action{Action: "comment", Actor: rita, Body: "thanks", Source: "email"})
	})
	h.stopAt(4 * minute)
	h.env.ExecuteWorkflow(workflows.IncidentWorkflow, incidentInput(incidentPolicy(t), "high", "high"))
	h.requireCanceled()

	require.Equal(t, []string{"open", "refused", "comment"}, h.actions())
	r := h.entries("refused")[0]
	require.Equal(t, "rita", r.Actor)
	require.Equal(t, "resolve", r.Detail["action"])
	require.Equal(t, "email", r.Detail["source"])
	require.Equal(t, workflows.StatusLogged, r.From)
	require.Equal(t, workflows.StatusLogged, r.To)
	require.Equal(t, "email", h.entries("comment")[0].Detail["source"])
}
