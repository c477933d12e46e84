package api

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/store"
	"github.com/kanri-itsm/kanri/workflows"
)

// obj is one JSON object of the document.
type obj = map[string]any

// openAPIDocument is the OpenAPI 3.1 description of this API, served at
// GET /api/v1/openapi.json. It is built on each call from the Go types the
// handlers decode and the workflows return, so a field added to a record
// or a request body is in the document without anyone remembering it; what
// reflection cannot know (enums, which fields an action reads) is in
// kindDocs and fieldNotes below.
func openAPIDocument() []byte {
	doc, err := buildOpenAPI()
	if err != nil {
		// A kind without a description, or a note on a field that no longer
		// exists: a programming error that the package's tests catch.
		panic("openapi: " + err.Error())
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic("openapi: " + err.Error())
	}
	return b
}

// kindDoc says what reflection cannot find out about one kind of case.
type kindDoc struct {
	record       reflect.Type // the record the workflow returns
	open         reflect.Type // the body of POST /api/v1/{kind}
	openRequired []string
	// openSummary and openDescription describe POST /api/v1/{kind};
	// openErrors are its error responses besides 401 and 503, by status.
	openSummary     string
	openDescription string
	openErrors      map[int]string
	// openIdempotent: POST /api/v1/{kind} takes an Idempotency-Key.
	openIdempotent bool
	// actErrors say what an error status of POST /api/v1/{kind}/{id}/actions
	// means for this kind, where the shared description is not enough.
	actErrors map[int]string
	statuses  []string
	actions   []actionDoc // exactly what the workflow's validator accepts
}

// actionDoc is one action and the actionBody fields it reads.
type actionDoc struct {
	name     string
	summary  string
	required []string // must be present and non-empty
	oneOf    []string // at least one of these must be non-empty
	optional []string
}

// changeTypes are the types of change; the change policy names the
// approvers of each but standard.
func changeTypes() []string { return []string{"standard", "normal", "emergency", "major"} }

func changeStatuses() []string {
	return []string{
		workflows.ChgRequested, workflows.ChgAssessed, workflows.ChgAwaitingApproval, workflows.ChgApproved,
		workflows.ChgRejected, workflows.ChgScheduled, workflows.ChgImplementing, workflows.ChgCompleted,
		workflows.ChgFailed, workflows.ChgBackedOut, workflows.ChgReviewed, workflows.ChgClosed,
	}
}

func problemStatusList() []string {
	return []string{workflows.PrbLogged, workflows.PrbInvestigating, workflows.PrbKnownError, workflows.PrbResolved, workflows.PrbClosed}
}

func releaseStatuses() []string {
	return []string{
		workflows.RelPlanned, workflows.RelBuilt, workflows.RelCriteriaNotMet, workflows.RelAccepted,
		workflows.RelApproved, workflows.RelRejected, workflows.RelEarlyLife, workflows.RelDeployed,
		workflows.RelRolledBack, workflows.RelReviewed, workflows.RelClosed, workflows.RelWithdrawn,
	}
}

// relationTypes are the types of a relation between CIs.
func relationTypes() []string { return []string{store.RelDependsOn, store.RelRunsOn, store.RelPartOf} }

func kindDocs() map[string]kindDoc {
	link := actionDoc{name: "link", summary: "Relate the case to another case.", required: []string{"kind", "id", "relation"}}
	comment := actionDoc{name: "comment", summary: "Add a comment.", required: []string{"body"}}
	onBehalf := map[int]string{
		403: "Only agents and admins may open a case for another caller.",
		422: "A missing or overlong field, a value outside its enum, an unknown service, item or caller, an unknown field, malformed JSON or an oversized body.",
	}
	raiseRFC := actionDoc{
		name:     "raise_rfc",
		summary:  "Raise a request for change for the CI change; the change is a case of its own, linked to the problem, which hears of its outcome. cis and ci_updates become the change's (each CI must be in the CMDB, or be new with a type and a name).",
		required: []string{"type", "backout_plan"},
		optional: []string{"cis", "ci_updates"},
	}
	raiseChange := raiseRFC
	raiseChange.name = "raise_change"
	raiseChange.summary = "The same as raise_rfc."
	return map[string]kindDoc{
		"incidents": {
			record:       reflect.TypeFor[workflows.Incident](),
			open:         reflect.TypeFor[cases.OpenIncident](),
			openRequired: []string{"title", "service", "impact", "urgency"},
			openErrors:   onBehalf,
			statuses: []string{
				workflows.StatusLogged, workflows.StatusAssigned, workflows.StatusInProgress,
				workflows.StatusPending, workflows.StatusResolved, workflows.StatusClosed,
			},
			actions: []actionDoc{
				{name: "assign", summary: "Assign to a user, a group or both; a logged incident becomes assigned.", oneOf: []string{"assignee", "group"}},
				{name: "start", summary: "The first response: the incident goes in_progress and the response clock stops."},
				comment,
				{name: "pend", summary: "Wait on something outside the support groups; both SLA clocks pause.", required: []string{"reason"}},
				{name: "resume", summary: "Leave pending; both due times move later by the paused time."},
				{name: "resolve", summary: "Resolve; the incident waits for the caller's confirmation.", required: []string{"resolution"}},
				{name: "confirm", summary: "The resolution is confirmed: resolved to closed. A major incident needs review_major first."},
				{name: "reopen", summary: "The resolution did not hold: resolved to in_progress.", required: []string{"reason"}},
				{name: "reclassify", summary: "Change impact and urgency; the priority and the SLA targets follow the matrix.", required: []string{"impact", "urgency"}, optional: []string{"reason"}},
				{name: "escalate", summary: "Move to the next group of the functional escalation path.", optional: []string{"reason"}},
				{name: "declare_major", summary: "Declare a major incident: names its manager and notifies top management.", required: []string{"manager"}},
				{name: "review_major", summary: "Review a resolved major incident; it may close only after this.", required: []string{"summary"}, optional: []string{"improvements"}},
				link,
			},
		},
		"requests": {
			record:       reflect.TypeFor[workflows.Request](),
			open:         reflect.TypeFor[cases.OpenRequest](),
			openRequired: []string{"title", "item"},
			openErrors:   onBehalf,
			statuses: []string{
				workflows.ReqLogged, workflows.ReqAwaitingApproval, workflows.ReqRejected, workflows.ReqAssigned,
				workflows.ReqFulfilling, workflows.ReqPending, workflows.ReqFulfilled, workflows.ReqClosed,
				workflows.ReqCancelled,
			},
			actions: []actionDoc{
				{name: "approve", summary: "Approve, as a member of the approving group who did not raise the request.", optional: []string{"comment"}},
				{name: "reject", summary: "Reject, as a member of the approving group; one rejection rejects the request.", optional: []string{"comment"}},
				{name: "assign", summary: "Assign to a user, a group or both; a logged request becomes assigned.", oneOf: []string{"assignee", "group"}},
				{name: "start", summary: "The first response: the request goes fulfilling."},
				{name: "pend", summary: "Wait on something outside the fulfilment group; the SLA clocks pause.", required: []string{"reason"}},
				{name: "resume", summary: "Leave pending."},
				{name: "fulfil", summary: "Fulfil; the request waits for the caller's confirmation.", required: []string{"resolution"}},
				{name: "confirm", summary: "The fulfilment is confirmed: fulfilled to closed."},
				{name: "reopen", summary: "The fulfilment did not hold: fulfilled to fulfilling.", required: []string{"reason"}},
				{name: "cancel", summary: "Withdraw the request.", required: []string{"reason"}},
				comment,
				link,
			},
		},
		"problems": {
			record:       reflect.TypeFor[workflows.Problem](),
			open:         reflect.TypeFor[cases.OpenProblem](),
			openRequired: []string{"title", "impact", "urgency"},
			openErrors: map[int]string{
				403: "Only agents and admins may record a problem.",
				422: "A missing or overlong field, a value outside its enum, an unknown service or incident, an unknown field, malformed JSON or an oversized body.",
			},
			actErrors: map[int]string{
				409: "The action is not allowed in the problem's current status, or the problem has ended; a problem that needs a CI change resolves only after it raised an RFC, and closes only after its review and once one of its RFCs has completed.",
				422: "An unknown action, a field the action needs is missing, a change type without approvers, an unknown user, group, CI or link target, a CI update the CMDB would refuse, an unknown field, malformed JSON or an oversized body.",
			},
			statuses: problemStatusList(),
			actions: []actionDoc{
				{name: "assign", summary: "Assign to a user, a group or both.", oneOf: []string{"assignee", "group"}},
				{name: "investigate", summary: "Begin the investigation: logged to investigating."},
				{name: "record_known_error", summary: "Record the root cause and workaround: a known error, published to incident management (GET /api/v1/known-errors). needs_change says a CI must change.", required: []string{"root_cause"}, optional: []string{"workaround", "needs_change"}},
				raiseRFC,
				raiseChange,
				{name: "resolve", summary: "Resolve; a problem that needs a CI change must have raised an RFC first.", required: []string{"resolution"}},
				{name: "review", summary: "Review the effectiveness of the resolution (process owners).", required: []string{"summary"}},
				{name: "close", summary: "Close a resolved problem after its review; one that needs a CI change only once one of its RFCs has completed successfully."},
				comment,
				link,
			},
		},
		"changes": {
			record:       reflect.TypeFor[workflows.Change](),
			open:         reflect.TypeFor[cases.OpenChange](),
			openRequired: []string{"title", "type"},
			openErrors: map[int]string{
				403: "Only agents and admins may raise a change.",
				422: "A missing or overlong field, a value outside its enum, a standard change without a pre-approved change model (or another type with one), a missing back-out plan, a service removal or transfer that is not major or names no service, an unknown service or CI, a CI update the CMDB would refuse, an unknown field, malformed JSON or an oversized body.",
			},
			actErrors: map[int]string{
				409: "The action is not allowed in the change's current status, or the change has ended; or what it needs is missing: the design-and-transition plan before submit, the remediation or back-out and the investigation before a failed change's review, the assessment before an emergency change's review, the deployment of every planned release before a successful complete. schedule also answers 409 for a window in a blackout (but for an emergency change) and for one that conflicts with another change's on the same or dependent CIs, unless accept_conflicts is true.",
				422: "An unknown action, a field the action needs is missing, a time that is not RFC 3339 or a window that ends before it starts, an unknown user, group, CI or link target, a CI update the CMDB would refuse, an unknown field, malformed JSON or an oversized body.",
			},
			statuses: changeStatuses(),
			actions: []actionDoc{
				{name: "assess", summary: "Record the assessment a decision rests on: requested to assessed. An emergency change may be assessed after the fact, until its review.", required: []string{"risk", "impact", "benefit", "feasibility", "cost"}, optional: []string{"security"}},
				{name: "plan_transition", summary: "Record the design-and-transition plan of a major change or a service removal or transfer, with the service acceptance criteria agreed beforehand: such a change is submitted only after it. A service removal also needs removal_plan.", required: []string{"plan", "acceptance_criteria"}, optional: []string{"removal_plan"}},
				{name: "submit", summary: "Submit an assessed change for approval by the change policy's group (an emergency change may skip the assessment). An approval still awaited after change_policy.approval_timeout is escalated to the group's manager, and after twice that to top management.", optional: []string{}},
				{name: "approve", summary: "Approve, as a member of the approving group who did not request the change; the quorum approves it.", optional: []string{"comment"}},
				{name: "reject", summary: "Reject, as a member of the approving group; one rejection rejects the change.", optional: []string{"comment"}},
				{name: "schedule", summary: "Schedule an approved change (RFC 3339 times). A window in a blackout is refused but for an emergency change; a window that overlaps a scheduled or implementing change on the same or dependent CIs is refused unless accept_conflicts is true.", required: []string{"start", "end"}, optional: []string{"accept_conflicts"}},
				{name: "plan_release", summary: "Plan a release of an approved, scheduled or implementing change: a case of its own (kind releases), linked to the change, which completes successfully only once the release has deployed. cis default to the change's, and are required when it names none. POST /api/v1/releases does the same and answers with the release.", required: []string{"title", "acceptance_criteria"}, optional: []string{"description", "cis"}},
				{name: "implement", summary: "Begin the implementation of an approved or scheduled change."},
				{name: "complete", summary: "End the implementation: completed on success, failed otherwise. A successful completion writes the change's ci_updates, overlaid by these, to the CMDB as new CI revisions (history entry cmdb_updated).", required: []string{"success"}, optional: []string{"notes", "ci_updates"}},
				{name: "back_out", summary: "Back out a failed or running implementation.", optional: []string{"reason"}},
				{name: "remediate", summary: "Record how a failed change was remedied (fixed forward) instead of backed out; it stays failed.", required: []string{"notes"}},
				{name: "investigate", summary: "Record the investigation of why a failed or backed-out change failed.", required: []string{"summary"}},
				{name: "review", summary: "The post-implementation review (process owners): of a failed change only after its remediation and investigation, of a backed-out one after its investigation; for an emergency change, the retrospective review, after its assessment.", required: []string{"summary"}},
				{name: "close", summary: "Close a reviewed change (a completed standard change needs no review)."},
				comment,
				link,
			},
		},
		"complaints": {
			record:       reflect.TypeFor[workflows.Complaint](),
			open:         reflect.TypeFor[cases.OpenComplaint](),
			openRequired: []string{"title"},
			openSummary:  "Receive a complaint",
			openDescription: "A complaint (ISO/IEC 20000-1 7.1), from the complainant or logged for them (caller, by agents). It is recorded, investigated, acted on and reported to the complainant, who accepts or disputes the outcome; " +
				"one not acted on within improvement.complaint_action_within goes to the service owner and the manager, then top management.",
			openErrors: map[int]string{
				403: "Only agents and admins may log a complaint for someone else.",
				422: "A missing or overlong field, an unknown service or caller, an unknown field, malformed JSON or an oversized body.",
			},
			actErrors: map[int]string{
				409: "The action is not allowed in the complaint's current status, or it has ended; close answers 409 until the complainant accepted or the response wait passed.",
				422: "An unknown action, a field the action needs is missing, a value outside its enum, an unknown user, group or link target, an unknown field, malformed JSON or an oversized body.",
			},
			statuses: []string{workflows.CmpReceived, workflows.CmpRecorded, workflows.CmpInvestigating, workflows.CmpActioned,
				workflows.CmpReported, workflows.CmpClosed},
			actions: []actionDoc{
				{name: "record", summary: "Record and classify (staff): impact is the severity (low, medium, high), reason the category, id the service when the complaint names none or the wrong one.", required: []string{"impact"}, optional: []string{"reason", "id", "notes"}},
				{name: "investigate", summary: "Investigate (staff): assignee handles it (default: the actor).", optional: []string{"assignee", "group", "notes"}},
				{name: "act", summary: "Record the action taken (staff).", required: []string{"summary"}},
				{name: "report", summary: "Report the outcome to the complainant (staff), who accepts or disputes it.", required: []string{"summary"}},
				{name: "accept", summary: "The complainant accepts the reported outcome.", optional: []string{"comment"}},
				{name: "dispute", summary: "The complainant disputes the outcome: back to investigating, with a new deadline.", required: []string{"reason"}},
				{name: "close", summary: "Close (staff), after acceptance or once the response wait has passed.", optional: []string{"comment"}},
				{name: "escalate", summary: "Escalate one level now (staff): the service owner and manager, then top management.", required: []string{"reason"}},
				comment,
				link,
			},
		},
		"corrective-actions": {
			record:       reflect.TypeFor[workflows.Corrective](),
			open:         reflect.TypeFor[cases.OpenCorrective](),
			openRequired: []string{"title"},
			openSummary:  "Raise a corrective action",
			openDescription: "A nonconformity to correct (ISO/IEC 20000-1 4.5.5), raised by hand (source_kind manual, the default) or from where it was found: " +
				"supplier_review, audit_finding, major_incident_review, complaint or sla_breach_trend, each with the source's id, which the record links.",
			openErrors: map[int]string{
				403: "Only agents, process owners and admins may raise a corrective action.",
				422: "A missing or overlong field, an unknown source kind, a source without its id, an unknown service, owner or group, an unknown field, malformed JSON or an oversized body.",
			},
			actErrors: map[int]string{
				409: "The action is not allowed in the corrective action's current status, or it has ended; verify answers 409 until the effectiveness check falls due.",
				422: "An unknown action, a field the action needs is missing, a due date that is not a future RFC 3339 time, an unknown user, group or link target, an unknown field, malformed JSON or an oversized body.",
			},
			statuses: []string{workflows.CapaRaised, workflows.CapaConfirmed, workflows.CapaCauseAnalysed, workflows.CapaEvaluated,
				workflows.CapaNoActionProposed, workflows.CapaPlanned, workflows.CapaImplemented, workflows.CapaVerifying, workflows.CapaClosed},
			actions: []actionDoc{
				{name: "confirm", summary: "Confirm the nonconformity: raised to confirmed.", optional: []string{"notes"}},
				{name: "analyse_cause", summary: "Record the cause (again, to revise it): to cause_analysed.", required: []string{"root_cause"}},
				{name: "evaluate", summary: "Evaluate the need for action: needs_change true goes to evaluated; false proposes that no action is needed.", required: []string{"needs_change", "reason"}},
				{name: "no_action", summary: "Propose that no action is needed; another process owner decides.", required: []string{"reason"}},
				{name: "approve_no_action", summary: "Approve the proposal that no action is needed (a process owner who did not propose it): closed.", optional: []string{"comment"}},
				{name: "reject_no_action", summary: "Reject the proposal: back to where it was proposed, action needed.", optional: []string{"comment"}},
				{name: "plan", summary: "Decide the action: what (plan), its owner (assignee) and group, and the due date (start, RFC 3339, in the future); the owner is reminded before it and the owner's manager, then top management, hear when it is overdue.", required: []string{"plan", "start"}, optional: []string{"assignee", "group"}},
				{name: "record_results", summary: "Record the results (the owner or a process owner): to implemented; the effectiveness check falls due improvement.effectiveness_after later.", required: []string{"results"}},
				{name: "verify", summary: "The effectiveness check, once due (a process owner who neither owns it nor recorded the results): effective closes it, ineffective goes back to cause analysis.", required: []string{"success", "notes"}},
				comment,
				link,
			},
		},
		"suppliers": {
			record:       reflect.TypeFor[workflows.Supplier](),
			open:         reflect.TypeFor[cases.OpenSupplier](),
			openRequired: []string{"name", "contract"},
			openSummary:  "Register a supplier and its contract",
			openDescription: "A supplier (ISO/IEC 20000-1 7.2) with its contract: scope, dependencies, the services and CMDB CIs it supports, service targets aligned to the customer's SLA " +
				"(each no looser than the SLA target of its priority), the contract manager, the review interval (default suppliers.review_interval) and the end. " +
				"A sub-contractor names its lead and works under the lead's contract: the lead's reviews cover its CIs. One long-running workflow per supplier opens a review each interval.",
			openErrors: map[int]string{
				403: "Only process owners and admins may register a supplier.",
				409: "The lead supplier has ended.",
				422: "A missing or overlong field, an unknown contract manager, service or CI, a target that is not aligned to the SLA, a lead that is not a lead supplier, an unknown field, malformed JSON or an oversized body.",
			},
			actErrors: map[int]string{
				409: "The supplier has ended, a sub-contractor's review was triggered, or the contract amendment's change did not complete successfully or already amended it.",
				422: "An unknown action, a field the action needs is missing, an unknown dispute, a contract that is not valid, an unknown field, malformed JSON or an oversized body.",
			},
			statuses: []string{workflows.SupActive, workflows.SupEnded},
			actions: []actionDoc{
				{name: "trigger_review", summary: "Open a review now (the contract manager or a process owner), for the period since the last; the schedule is unchanged."},
				{name: "amend_contract", summary: "Amend the contract (process owners) through a change that completed successfully: contract is the whole new contract, id the change.", required: []string{"contract", "id"}},
				{name: "record_dispute", summary: "Record a dispute with the supplier; it gets an id D1, D2…", required: []string{"summary"}},
				{name: "work_dispute", summary: "Record work on an open dispute.", required: []string{"dispute", "notes"}},
				{name: "close_dispute", summary: "Close a dispute with its resolution.", required: []string{"dispute", "resolution"}},
				{name: "terminate", summary: "Terminate the contract (process owners): the review cycle stops.", required: []string{"reason"}},
				{name: "add_subcontractor", summary: "Recorded by Kanri when a sub-contractor is registered; refused to anyone else."},
				{name: "review_recorded", summary: "Recorded by Kanri when one of the supplier's reviews is recorded; refused to anyone else."},
				comment,
				link,
			},
		},
		"supplier-reviews": {
			record:          reflect.TypeFor[workflows.SupplierReview](),
			open:            reflect.TypeFor[cases.OpenSupplierReview](),
			openRequired:    []string{"supplier"},
			openSummary:     "Open a supplier review now",
			openDescription: "Reviews open on schedule, every contract's review interval; this opens one at once (trigger_review on the supplier, by its contract manager or a process owner) for the period since the last review, and answers with the review once it is recorded.",
			openIdempotent:  true,
			openErrors: map[int]string{
				403: "Only the supplier's contract manager and process owners may open a review.",
				404: "No such supplier.",
				409: "The supplier has ended, or is a sub-contractor (reviewed within its lead's reviews).",
				422: "No supplier, an unknown field, malformed JSON or an oversized body.",
			},
			actErrors: map[int]string{
				409: "The review is already recorded.",
				422: "An unknown action, a rating outside 1–5, no decisions, a finding without a summary, an unknown field, malformed JSON or an oversized body.",
			},
			statuses: []string{workflows.SrvOpen, workflows.SrvClosed},
			actions: []actionDoc{
				{name: "record", summary: "Record the review (the contract manager or a process owner): rating 1–5, the decisions, and findings [{summary, nonconformity, clause}]; each nonconformity raises a corrective action linked to the review.", required: []string{"rating", "decisions"}, optional: []string{"findings"}},
				comment,
				link,
			},
		},
		"audits": {
			record:      reflect.TypeFor[workflows.Audit](),
			open:        reflect.TypeFor[cases.OpenAudit](),
			openSummary: "Plan an internal audit",
			openDescription: "An internal audit (ISO/IEC 20000-1 4.5.4.2): programme names an audit of audit_programme.audits, whose title, scope, criteria and auditor are the defaults of the fields here. " +
				"An auditor who owns an audited process, or is a member or manager of an audited group or of a group working in an audited process, is refused: an auditor never audits their own work.",
			openErrors: map[int]string{
				403: "Only process owners and admins may plan an audit.",
				409: "The auditor would audit their own work.",
				422: "A missing or overlong field, an unknown programme entry, process, group or auditor, an empty scope, an unknown field, malformed JSON or an oversized body.",
			},
			actErrors: map[int]string{
				409: "The action is not allowed in the audit's current status, or the new auditor would audit their own work.",
				422: "An unknown action, a field the action needs is missing, a finding without a summary, an unknown user, an unknown field, malformed JSON or an oversized body.",
			},
			statuses: []string{workflows.AudPlanned, workflows.AudInProgress, workflows.AudReported, workflows.AudClosed},
			actions: []actionDoc{
				{name: "start", summary: "Start the audit (the auditor)."},
				{name: "record_finding", summary: "Record findings (the auditor): [{summary, nonconformity, clause}]; each nonconformity raises a corrective action, which reports back when it closes.", required: []string{"findings"}},
				{name: "report", summary: "Report the audit (the auditor): it closes when every corrective action it raised is verified.", required: []string{"summary"}},
				{name: "reassign_auditor", summary: "Give the audit another auditor (process owners), who must be independent of its scope.", required: []string{"assignee"}},
				comment,
				link,
			},
		},
		"service-reports": {
			record:   reflect.TypeFor[activities.ServiceReportRecord](),
			statuses: []string{"closed"},
		},
		"releases": {
			record:          reflect.TypeFor[workflows.Release](),
			open:            reflect.TypeFor[cases.OpenRelease](),
			openRequired:    []string{"title", "change", "acceptance_criteria"},
			openSummary:     "Plan a release on a change",
			openDescription: "A release is always planned by the change it deploys: this applies the change's plan_release action and answers with the new release. cis default to the change's, and are required when it names none.",
			openIdempotent:  true,
			openErrors: map[int]string{
				403: "Only agents and admins may plan a release.",
				404: "No such change.",
				409: "The change is not approved, scheduled or implementing.",
				422: "A missing or overlong field, no acceptance criteria, no CIs when the change names none, an unknown CI, an unknown field, malformed JSON or an oversized body.",
			},
			actErrors: map[int]string{
				409: "The action is not allowed in the release's current status, or the release has ended; deploy also answers 409 unless the change is implementing and it is inside the change's window.",
			},
			statuses: releaseStatuses(),
			actions: []actionDoc{
				{name: "build", summary: "Record a build: planned, built or criteria_not_met to built.", required: []string{"version"}, optional: []string{"notes"}},
				{name: "test", summary: "The acceptance test of the latest build against the acceptance criteria: built to accepted when passed (the approving group is asked), to criteria_not_met otherwise.", required: []string{"passed", "results"}},
				{name: "decide", summary: "The interested parties' decision on unmet acceptance criteria (process owners): accept goes on to approval, otherwise back to built for another build or test.", required: []string{"accept", "comment"}},
				{name: "approve", summary: "Approve an accepted release, as a member of release_policy's approving group who did not plan it; the quorum approves it.", optional: []string{"comment"}},
				{name: "reject", summary: "Reject, as a member of the approving group; one rejection rejects the release.", optional: []string{"comment"}},
				{name: "deploy", summary: "Deploy an approved release while its change is implementing, inside the change's window: a baseline of its CIs is taken first, and early-life support begins (early_life); when it ends, the incidents on its services are counted and the release is deployed."},
				{name: "rollback", summary: "Roll back a release in early life or deployed.", required: []string{"reason"}},
				{name: "withdraw", summary: "Withdraw a release that has not deployed (its change failed or went another way): the release ends, withdrawn.", required: []string{"reason"}},
				{name: "review", summary: "Review a deployed or rolled-back release (process owners).", required: []string{"summary"}},
				{name: "close", summary: "Close a reviewed or rejected release."},
				comment,
				link,
			},
		},
	}
}

// fieldNotes are merged into the schema that reflection makes of a field,
// keyed by the component name of the Go type that declares the field and
// its JSON name; a struct that embeds another may add notes of its own
// under its name. The notes that depend on the kind (id, kind, status) are
// added by buildOpenAPI.
func fieldNotes(kinds []cases.Kind) map[string]obj {
	levels := policy.Levels()
	var names, prefixes []string
	idOf := map[string]obj{}
	prefixOf := map[string]string{}
	for _, k := range kinds {
		names = append(names, k.Name)
		prefixes = append(prefixes, k.Prefix)
		prefixOf[k.Name] = k.Prefix
		idOf[k.Name] = obj{"pattern": "^" + k.Prefix + "-[0-9]{6,}$"}
	}
	anyID := obj{"pattern": "^(" + strings.Join(prefixes, "|") + ")-[0-9]{6,}$"}
	breached := obj{
		"type":        "array",
		"items":       obj{"type": "string", "enum": []string{"response", "resolution"}},
		"description": "The SLA targets that have passed unmet.",
	}
	// The limits are cases.maxTitle and cases.maxText.
	title := obj{"pattern": `\S`, "maxLength": 300, "description": "Required; at most 300 characters."}
	text := obj{"maxLength": 64 * 1024}
	caller := obj{"description": "The user the case is for; defaults to the authenticated user. Only agents and admins may name someone else (403)."}
	ciStatus := obj{"enum": policy.CIStatuses()}
	ciType := obj{"description": "One of the configuration's cmdb.ci_types."}
	withID := func(kind, desc string) obj { return merge(idOf[kind], obj{"description": desc}) }
	return map[string]obj{
		"Incident.impact":                    {"enum": levels},
		"Incident.urgency":                   {"enum": levels},
		"Incident.priority":                  {"enum": policy.Priorities(), "description": "priority_matrix[impact][urgency], at creation and on reclassify."},
		"Incident.service":                   {"description": "The id of a service of the service catalogue."},
		"Incident.assignee":                  {"description": "A user id; empty while unassigned."},
		"Incident.group":                     {"description": "The group that holds the incident; it moves along escalation.functional on escalation."},
		"Incident.escalation_level":          {"minimum": 0, "description": "Functional escalations so far; 0 when never escalated."},
		"Incident.hierarchical_level":        {"minimum": 0, "maximum": 2, "description": "Hierarchical escalation after the resolution target: 0 none, 1 the group's manager, 2 top management."},
		"Incident.major_manager":             {"description": "The manager named by declare_major."},
		"Incident.major_review":              {"description": "Set by review_major; a major incident closes only after it."},
		"Incident.caller":                    {"description": "The user the incident is for."},
		"Incident.waiting_for":               {"description": "What the workflow is waiting on, in words; empty when closed."},
		"IncidentSLA.breached":               breached,
		"IncidentSLA.responded_at":           {"description": "When the first start was applied."},
		"IncidentSLA.paused":                 {"description": "True while pending: both clocks are stopped."},
		"IncidentSLA.warned":                 {"description": "True once the early warning went to the group's manager."},
		"Request.item":                       {"description": "The id of the request catalogue item."},
		"Request.item_name":                  {"description": "The catalogue item's name."},
		"Request.approval":                   {"description": "The approval the item needs; null when it needs none."},
		"Request.approvals":                  {"description": "Every decision on the request, oldest first."},
		"Request.waiting_for":                {"description": "What the workflow is waiting on, in words; empty when it has ended."},
		"RequestSLA.response_due":            {"description": "Null while the request awaits approval: the clocks start when it may be worked on."},
		"RequestSLA.resolution_due":          {"description": "Null while the request awaits approval."},
		"RequestSLA.breached":                breached,
		"RequestSLA.paused":                  {"description": "True while pending: the clocks are stopped."},
		"RequestSLA.warned":                  {"description": "True once the early warning went to the group's manager."},
		"Approval.decision":                  {"enum": []string{"approved", "rejected"}},
		"Quorum.quorum":                      {"minimum": 1, "description": "How many approvals are needed."},
		"Change.type":                        {"enum": changeTypes()},
		"Change.approval":                    {"description": "The group and quorum from change_policy.approvers; null for a standard change."},
		"Change.approvals":                   {"description": "Every decision with who, when and comment, oldest first."},
		"Change.cis":                         {"description": "The CIs the change touches; the change schedule finds conflicts on these and the CIs related to them."},
		"Change.schedule":                    {"description": "The implementation window; null until scheduled."},
		"Change.remediation":                 {"description": "How a failed change was remedied (remediate; summary holds its notes); absent until then."},
		"Change.investigation":               {"description": "The investigation of a failure (investigate); absent until then."},
		"Change.service_action":              {"enum": []string{"removal", "transfer"}, "description": "Present when the change removes or transfers a service: always a major change, which needs a design-and-transition plan."},
		"Change.transition_plan":             {"description": "The design-and-transition plan (plan_transition); absent until recorded."},
		"Change.submitted_at":                {"description": "When the change was submitted for approval; absent before."},
		"Change.approval_escalation":         {"minimum": 0, "maximum": 2, "description": "Escalations of an overdue approval: 1 to the approving group's manager, 2 to top management."},
		"Change.ci_updates":                  {"description": "The CMDB updates the change plans; a successful completion writes them, overlaid by those complete carries."},
		"Change.cmdb":                        {"description": "The CI revisions the successful completion wrote; empty before."},
		"Change.releases":                    {"description": "The releases the change planned, with the status each last reported, oldest first. The change completes successfully only once each has deployed."},
		"TransitionPlan.acceptance_criteria": {"description": "The service acceptance criteria agreed before the change."},
		"TransitionPlan.removal_plan":        {"description": "For a service removal: what becomes of the service's data and CIs (archiving, disposal or transfer)."},
		"ReleaseRef.id":                      idOf["releases"],
		"ReleaseRef.status":                  {"enum": releaseStatuses()},
		"Assessment.risk":                    {"enum": levels},
		"CIUpdate.id":                        {"description": "The CI's id. A CI not in the CMDB yet is registered, which needs type and name."},
		"CIUpdate.type":                      ciType,
		"CIUpdate.status":                    ciStatus,
		"CIUpdate.attributes":                {"description": "Attributes to set; an empty value removes one."},
		"CIUpdate.relations":                 {"type": []string{"array", "null"}, "description": "When present, the CI's outgoing relations as they are to be; absent or null leaves them as they are."},
		"CIRevision.ci":                      {"description": "The CI's id."},
		"CIRevision.rev":                     {"minimum": 1},
		"CIRevision.status":                  ciStatus,
		"ReleaseBaseline.name":               {"description": "The baseline's name, for GET /api/v1/baselines/{name}."},
		"ReleaseBaseline.items":              {"description": "The revision of each CI when the baseline was taken."},
		"Problem.impact":                     {"enum": levels},
		"Problem.urgency":                    {"enum": levels},
		"Problem.priority":                   {"enum": policy.Priorities()},
		"Problem.rfcs":                       {"description": "The changes this problem raised, oldest first."},
		"Problem.rfc_states":                 {"description": "The status each RFC last reported, and whether its implementation succeeded."},
		"Problem.needs_change":               {"description": "A CI must change: the problem resolves only after it raised an RFC, and closes only once one has completed successfully."},
		"CaseState.status":                   {"description": "The case's status when it reported."},
		"CaseState.success":                  {"description": "For a change: its implementation succeeded. Absent when false."},
		"CaseState.window":                   {"description": "For a change: its schedule, when it has one."},
		"Release.change":                     withID("changes", "The change that planned the release; the release deploys while it is implementing, inside its window."),
		"Release.change_status":              {"enum": changeStatuses(), "description": "The change's status as the release last heard of it."},
		"Release.window":                     {"description": "The change's schedule; null until the change is scheduled."},
		"Release.cis":                        {"description": "The CIs the release deploys to; baselined when it deploys."},
		"Release.services":                   {"description": "The change's services: early-life incidents are counted on these and on the services of the CIs."},
		"Release.problems":                   {"description": "The problems the release resolves: those its change is linked to, and the problem that raised the change."},
		"Release.acceptance_criteria":        {"description": "What the acceptance test checks."},
		"Release.builds":                     {"description": "Every build, oldest first."},
		"Release.tests":                      {"description": "Every acceptance test, oldest first."},
		"Release.decision":                   {"description": "The decision on unmet acceptance criteria (decide); null when none was taken."},
		"Release.approval":                   {"description": "The group and quorum from release_policy.approvers."},
		"Release.approvals":                  {"description": "Every decision with who, when and comment, oldest first."},
		"Release.baseline":                   {"description": "The baseline of the CIs taken on deploy; null before."},
		"Release.deployment":                 {"description": "Null until deployed."},
		"Release.waiting_for":                {"description": "What the workflow is waiting on, in words; empty when closed."},
		"AcceptanceTest.version":             {"description": "The version tested: the latest build's."},
		"Decision.accept":                    {"description": "True: accepted despite the unmet criteria."},
		"Deployment.early_life_until":        {"description": "The end of early-life support: release_policy.early_life after the deployment."},
		"Deployment.incidents":               {"minimum": 0, "description": "The incidents logged on the release's services during early life; null until early life ends."},
		"Deployment.rolled_back_at":          {"description": "Absent unless rolled back."},
		"Deployment.rollback_reason":         {"description": "Absent unless rolled back."},
		"OpenProblem.title":                  title,
		"OpenProblem.impact":                 {"enum": levels},
		"OpenProblem.urgency":                {"enum": levels},
		"OpenProblem.incidents":              {"description": "Ids of the incidents the problem explains; each must exist. Each incident is linked to the problem."},
		"OpenChange.type":                    {"enum": changeTypes()},
		"OpenChange.title":                   title,
		"OpenChange.description":             text,
		"OpenChange.standard_change":         {"description": "Required for, and only for, type standard: a pre-approved change model of change_policy.standard_changes."},
		"OpenChange.backout_plan":            merge(text, obj{"description": "Required for every type but standard."}),
		"OpenChange.services":                {"description": "Ids of services of the service catalogue."},
		"OpenChange.cis":                     {"description": "Ids of the CIs the change touches; each must be in the CMDB."},
		"OpenChange.service_action":          {"enum": []string{"", "removal", "transfer"}, "description": "removal or transfer for a change that removes or transfers a service: it must be of type major and name the services."},
		"OpenChange.ci_updates":              {"description": "The CMDB updates the change plans, written when it completes successfully. Each CI must be in the CMDB, or be new with a type and a name."},
		"OpenRelease.title":                  title,
		"OpenRelease.description":            text,
		"OpenRelease.change":                 withID("changes", "The approved, scheduled or implementing change that deploys the release."),
		"OpenRelease.cis":                    {"description": "The CIs the release deploys to; each must be in the CMDB. Defaults to the change's, and required when it names none."},
		"OpenRelease.acceptance_criteria":    {"description": "What the acceptance test will check; at least one."},
		"Link.kind":                          {"enum": names},
		"Link.id":                            anyID,
		"HistoryItem.seq":                    {"minimum": 1, "description": "The entry's number within its case, from 1."},
		"HistoryItem.actor":                  {"description": "The user who acted, or system for what the workflow did by itself (timers, and what related cases reported)."},
		"HistoryItem.action":                 {"description": "open, an action's name, refused, or a transition of the workflow's own: sla_breach, sla_warning, escalate_hierarchical, auto_close (incidents, requests); approval_escalated, cmdb_updated and release_<status> when a planned release reports a new status (changes); rfc_<status> when a raised change reports one (problems); change_<status> when the release's change reports one, and early_life_ended (releases)."},
		"HistoryItem.from":                   {"description": "The status before; empty for the opening entry."},
		"HistoryItem.to":                     {"description": "The status after."},
		"HistoryItem.detail":                 {"type": "object", "description": "What the entry carried (reason, body, priorities, who was notified…); {} when nothing."},
		"OpenIncident.title":                 title,
		"OpenIncident.description":           text,
		"OpenIncident.service":               {"description": "The id of a service of the service catalogue."},
		"OpenIncident.impact":                {"enum": levels},
		"OpenIncident.urgency":               {"enum": levels},
		"OpenIncident.caller":                caller,
		"OpenRequest.title":                  title,
		"OpenRequest.description":            text,
		"OpenRequest.item":                   {"description": "The id of a request catalogue item."},
		"OpenRequest.service":                {"description": "Optional: the id of a service of the service catalogue."},
		"OpenRequest.caller":                 caller,
		"CI.type":                            ciType,
		"CI.status":                          ciStatus,
		"CI.attributes":                      {"description": "Free-form attributes."},
		"CI.relations":                       {"description": "Outgoing relations (what this CI depends on, runs on or is part of), by type, then target."},
		"CI.rev":                             {"minimum": 1, "description": "The revision; 1 is the first registration."},
		"CI.change_id":                       {"description": "The change that wrote this revision; empty for a registration from the configuration."},
		"CI.updated_by":                      {"description": "The user who wrote this revision."},
		"CIRecord.revisions":                 {"description": "Every revision of the CI, oldest first, each naming the change that wrote it."},
		"Relation.type":                      {"enum": relationTypes()},
		"Relation.to":                        {"description": "The id of the CI this one depends on, runs on or is part of."},
		"Impact.ci":                          {"description": "The CI asked about."},
		"Impact.cis":                         {"description": "Every CI that depends on it, directly or not, by depth, then id."},
		"Impact.services":                    {"description": "The services that contain the CI or an impacted one, sorted."},
		"ImpactItem.via":                     {"enum": relationTypes(), "description": "The relation from this CI to the one it depends on, one step closer."},
		"ImpactItem.depth":                   {"minimum": 1, "description": "1 for a direct dependent."},
		"Baseline.release":                   {"pattern": "^(" + prefixOf["releases"] + "-[0-9]{6,})?$", "description": "The release that took the baseline before it deployed; empty for one taken through POST /api/v1/baselines."},
		"Baseline.items":                     {"description": "The revision of each CI when the baseline was taken, by CI id."},
		"WriteCI.id":                         {"description": "The CI's id: required for POST; for PATCH, when present, the path's."},
		"WriteCI.change":                     withID("changes", "The change that authorises the edit: it completed successfully, covers the CI (in its cis or ci_updates) and has not written a revision of it yet. Without it, the edit is refused (409)."),
		"TakeBaseline.name":                  merge(title, obj{"description": "Required and unique; at most 300 characters."}),
		"TakeBaseline.cis":                   {"description": "The CIs to freeze; each must be in the CMDB."},
		"ScheduledChange.change_id":          idOf["changes"],
		"ScheduledChange.type":               {"enum": changeTypes()},
		"ScheduledChange.status":             {"enum": changeStatuses(), "description": "The change's status."},
		"ScheduledChange.end":                {"description": "Exclusive: a window that ends at 10:00 does not meet one that starts at 10:00."},
		"ScheduledChange.seq":                {"minimum": 1, "description": "The history entry of the change that wrote this line."},
		"ScheduleItem.conflicts":             {"description": "The other scheduled or implementing changes whose windows overlap this one on the same or dependent CIs; empty unless this change is scheduled or implementing."},
		"Conflict.change_id":                 idOf["changes"],
		"Conflict.ci":                        {"description": "The other change's CI that is shared or related."},
		"Conflict.reason":                    {"description": "Why they conflict: same CI, or which CI depends on which."},
		"Blackout.end":                       {"description": "Exclusive."},
		"Evidence.change":                    merge(schemaRef("Change"), obj{"description": "The change's record."}),
		"Evidence.releases":                  {"items": schemaRef("Release"), "description": "The records of the releases the change planned."},
		"Evidence.cmdb":                      {"description": "The CI revisions the change wrote, by CI."},
		"Evidence.history":                   {"description": "The change's history, oldest first."},
		"Evidence.generated_by":              {"description": "The user who asked for the document."},
		"KnownError.problem_id":              idOf["problems"],
		"KnownError.status":                  {"enum": problemStatusList(), "description": "The problem's status."},
		"KnownError.seq":                     {"minimum": 1, "description": "The history entry of the problem that wrote this known error."},
		"ProblemTrend.problem":               idOf["problems"],
		"ProblemTrend.status":                {"enum": problemStatusList()},
		"ProblemTrend.incidents":             {"description": "The incidents linked to the problem."},
		"ProblemTrend.count":                 {"minimum": 0, "description": "How many incidents."},
		"actionBody.assignee":                {"description": "A user id."},
		"actionBody.group":                   {"description": "A group id."},
		"actionBody.impact":                  {"enum": levels},
		"actionBody.urgency":                 {"enum": levels},
		"actionBody.manager":                 {"description": "A user id."},
		"actionBody.body":                    text,
		"actionBody.reason":                  text,
		"actionBody.resolution":              text,
		"actionBody.summary":                 text,
		"actionBody.improvements":            text,
		"actionBody.comment":                 text,
		"actionBody.kind":                    {"enum": names, "description": "The kind of the case to link to."},
		"actionBody.id":                      merge(anyID, obj{"description": "The id of the case to link to."}),
		"actionBody.relation":                {"description": "How the cases relate, for example caused_by."},
		"actionBody.risk":                    {"enum": levels},
		"actionBody.benefit":                 text,
		"actionBody.feasibility":             text,
		"actionBody.cost":                    text,
		"actionBody.security":                text,
		"actionBody.start":                   {"format": "date-time", "description": "RFC 3339."},
		"actionBody.end":                     {"format": "date-time", "description": "RFC 3339; after start."},
		"actionBody.notes":                   text,
		"actionBody.root_cause":              text,
		"actionBody.workaround":              text,
		"actionBody.type":                    {"enum": []string{"normal", "emergency", "major"}, "description": "The type of the change to raise."},
		"actionBody.backout_plan":            text,
		"actionBody.plan":                    text,
		"actionBody.removal_plan":            text,
		"actionBody.acceptance_criteria":     {"description": "One criterion an item."},
		"actionBody.ci_updates":              {"description": "CMDB updates: each CI must be in the CMDB, or be new with a type and a name."},
		"actionBody.accept_conflicts":        {"description": "true: schedule the window although it conflicts with other changes; the history records which."},
		"actionBody.title":                   {"description": "The release's title."},
		"actionBody.description":             text,
		"actionBody.cis":                     {"description": "CI ids; each must be in the CMDB."},
		"actionBody.version":                 {"description": "The version built."},
		"actionBody.results":                 text,
		"actionBody.passed":                  {"description": "Whether the build met the acceptance criteria."},
		"actionBody.accept":                  {"description": "true accepts the release despite the unmet criteria; false sends it back to built."},
	}
}

// buildOpenAPI assembles the document.
func buildOpenAPI() (obj, error) {
	kinds := cases.Kinds()
	docs := kindDocs()
	s := &schemaSet{defs: obj{}, types: map[string]reflect.Type{}, notes: fieldNotes(kinds), used: map[string]bool{}}
	body := s.fields(reflect.TypeFor[actionBody](), "actionBody")

	paths := obj{}
	tags := []obj{}
	for _, k := range kinds {
		d, ok := docs[k.Name]
		if !ok {
			s.fail("kind %s has no entry in kindDocs", k.Name)
			continue
		}
		rec := schemaName(d.record)
		s.notes[rec+".id"] = obj{"pattern": "^" + k.Prefix + "-[0-9]{6,}$", "examples": []string{k.Prefix + "-000001"}}
		s.notes[rec+".kind"] = obj{"const": k.Name}
		s.notes[rec+".status"] = obj{"enum": d.statuses}
		recRef := s.ref(d.record)
		var openName, actName string
		if !k.ReadOnly {
			openName = s.input(d.open, d.openRequired)
			actName = rec + "Action"
			s.define(actName, s.actionSchema(k, d, body))
		}
		listName := rec + "List"
		s.define(listName, obj{
			"type":     "object",
			"required": []string{"items", "next_cursor"},
			"properties": obj{
				"items":       obj{"type": "array", "items": recRef},
				"next_cursor": obj{"type": []string{"string", "null"}, "description": "Pass as cursor for the next page; null on the last page."},
			},
		})
		tags = append(tags, obj{"name": k.Name, "description": "Cases of kind " + k.Name + ", ids " + k.Prefix + "-000001 and up."})
		s.paths(paths, k, d, recRef, openName, actName, listName)
	}
	s.ref(reflect.TypeFor[cases.HistoryItem]())
	s.define("HistoryList", obj{
		"type":       "object",
		"required":   []string{"items"},
		"properties": obj{"items": obj{"type": "array", "items": schemaRef("HistoryItem"), "description": "Oldest first."}},
	})
	s.define("ProblemDetails", obj{
		"type":        "object",
		"description": "An RFC 9457 problem document.",
		"required":    []string{"type", "title", "status", "detail"},
		"properties": obj{
			"type":   obj{"type": "string", "format": "uri-reference", "default": "about:blank"},
			"title":  obj{"type": "string", "description": "The HTTP status text."},
			"status": obj{"type": "integer", "minimum": 400, "maximum": 599},
			"detail": obj{"type": "string", "description": "What went wrong, for a person to read."},
		},
	})
	s.configurationPaths(paths)
	reportPaths(paths)
	tags = append(tags,
		obj{"name": "cmdb", "description": "The configuration management database: CIs, their revisions and relations, and baselines. CIs change only through changes."},
		obj{"name": "reports", "description": "Reports for the process owners."},
	)
	systemPaths(paths)
	tags = append(tags, obj{"name": "system", "description": "Health, metrics and this document; no token needed."})

	for key := range s.notes {
		if !s.used[key] {
			s.fail("fieldNotes has %s, but no such field was documented", key)
		}
	}
	if s.err != nil {
		return nil, s.err
	}
	return obj{
		"openapi": "3.1.0",
		"info": obj{
			"title":       "Kanri",
			"version":     "1",
			"description": "Kanri's HTTP API: ITSM cases (incidents, service requests, problems, changes, releases) run as durable workflows, with the CMDB, the change schedule and the known errors beside them. Errors are RFC 9457 problem documents.",
		},
		"servers":  []obj{{"url": "/"}},
		"security": []obj{{"bearer": []string{}}},
		"tags":     tags,
		"paths":    paths,
		"components": obj{
			"securitySchemes": obj{
				"bearer": obj{"type": "http", "scheme": "bearer", "description": "A user's token from the configuration (users[].token)."},
			},
			"schemas":   s.defs,
			"responses": problemResponses(),
		},
	}, nil
}

// paths adds the five operations of one kind.
func (s *schemaSet) paths(paths obj, k cases.Kind, d kindDoc, recRef obj, openName, actName, listName string) {
	rec := schemaName(d.record)
	base := "/api/v1/" + k.Name
	tags := []string{k.Name}
	idParam := obj{
		"name": "id", "in": "path", "required": true,
		"description": "The case id.",
		"schema":      obj{"type": "string", "examples": []string{k.Prefix + "-000001"}},
	}
	var params []obj
	for _, f := range listFilters(k) {
		p, ok := filterParam(f, d)
		if !ok {
			s.fail("list filter %q of %s is not described in filterParam", f, k.Name)
			continue
		}
		params = append(params, p)
	}
	idempotencyKey := obj{
		"name": "Idempotency-Key", "in": "header", "required": false,
		"description": "Requests that repeat a key apply the action once: a retry or a double click is harmless.",
		"schema":      obj{"type": "string"},
	}
	create := obj{
		"operationId": "create" + rec,
		"summary":     "Open a case of kind " + k.Name,
		"tags":        tags,
		"requestBody": obj{"required": true, "content": obj{"application/json": obj{"schema": schemaRef(openName)}}},
	}
	if d.openSummary != "" {
		create["summary"] = d.openSummary
	}
	if d.openDescription != "" {
		create["description"] = d.openDescription
	}
	if d.openIdempotent {
		create["parameters"] = []obj{merge(idempotencyKey, obj{
			"description": "Requests that repeat a key create one case: a retry or a double click is harmless.",
		})}
	}
	createResponses := obj{
		"201": jsonResponse("The new record, once it is in the database.", recRef),
		"401": problemRef(401, ""),
		"503": problemRef(503, ""),
	}
	if len(d.openErrors) == 0 && !k.ReadOnly {
		s.fail("kind %s: kindDocs has no openErrors", k.Name)
	}
	for code, desc := range d.openErrors {
		createResponses[strconv.Itoa(code)] = problemRef(code, desc)
	}
	create["responses"] = createResponses
	paths[base] = obj{
		"get": obj{
			"operationId": "list" + camel(k.Name),
			"summary":     "List " + k.Name + ", newest first",
			"description": "A requester sees only the cases they raised.",
			"tags":        tags,
			"parameters":  params,
			"responses": obj{
				"200": jsonResponse("A page of "+k.Name+".", schemaRef(listName)),
				"401": problemRef(401, ""),
				"422": problemRef(422, "An unknown filter, a limit outside 1–200, a cursor this server did not hand out, or breached or major not true or false."),
			},
		},
		"post": create,
	}
	if k.ReadOnly {
		delete(paths[base].(obj), "post")
	}
	paths[base+"/{id}"] = obj{
		"parameters": []obj{idParam},
		"get": obj{
			"operationId": "get" + rec,
			"summary":     "Get a record",
			"tags":        tags,
			"responses": obj{
				"200": jsonResponse("The record.", recRef),
				"401": problemRef(401, ""),
				"404": problemRef(404, ""),
			},
		},
	}
	if !k.ReadOnly {
		s.actionPath(paths, base, rec, actName, tags, idParam, idempotencyKey, recRef, d, k)
	}
	paths[base+"/{id}/history"] = obj{
		"parameters": []obj{idParam},
		"get": obj{
			"operationId": "get" + rec + "History",
			"summary":     "The case's history, oldest first",
			"description": "Append-only: no request edits or deletes an entry.",
			"tags":        tags,
			"responses": obj{
				"200": jsonResponse("The history.", schemaRef("HistoryList")),
				"401": problemRef(401, ""),
				"404": problemRef(404, ""),
			},
		},
	}
}

// actionPath adds POST /{kind}/{id}/actions.
func (s *schemaSet) actionPath(paths obj, base, rec, actName string, tags []string, idParam, idempotencyKey, recRef obj, d kindDoc, k cases.Kind) {
	actErrors := map[int]string{
		403: "",
		404: "",
		409: "The action is not allowed in the case's current status, or the case has ended.",
		422: "An unknown action, a field the action needs is missing, an unknown user, group or link target, an unknown field, malformed JSON or an oversized body.",
		503: "",
	}
	for code, desc := range d.actErrors {
		if _, ok := actErrors[code]; !ok {
			s.fail("kind %s: actErrors has %d, which POST /actions does not answer", k.Name, code)
		}
		actErrors[code] = desc
	}
	actResponses := obj{
		"200": jsonResponse("The updated record.", recRef),
		"401": problemRef(401, ""),
	}
	for code, desc := range actErrors {
		actResponses[strconv.Itoa(code)] = problemRef(code, desc)
	}
	paths[base+"/{id}/actions"] = obj{
		"parameters": []obj{idParam},
		"post": obj{
			"operationId": "act" + rec,
			"summary":     "Apply an action",
			"description": "Answers once the workflow has applied the action and the record is in the database.",
			"tags":        tags,
			"parameters":  []obj{idempotencyKey},
			"requestBody": obj{"required": true, "content": obj{"application/json": obj{"schema": schemaRef(actName)}}},
			"responses":   actResponses,
		},
	}
}

// filterParam describes one query parameter of a list.
func filterParam(name string, d kindDoc) (obj, bool) {
	p := obj{"name": name, "in": "query", "required": false}
	switch name {
	case "status":
		p["description"] = "Only cases in one of these statuses; repeat the parameter or separate statuses with commas."
		p["schema"] = obj{"type": "array", "items": obj{"type": "string", "enum": d.statuses}}
		p["style"], p["explode"] = "form", true
	case "limit":
		p["description"] = "Page size."
		p["schema"] = obj{"type": "integer", "minimum": 1, "maximum": 200, "default": 50}
	case "cursor":
		p["description"] = "The next_cursor of the previous page."
		p["schema"] = obj{"type": "string"}
	case "assignee":
		p["description"] = "Only cases assigned to this user id."
		p["schema"] = obj{"type": "string"}
	case "group":
		p["description"] = "Only cases held by this group id."
		p["schema"] = obj{"type": "string"}
	case "service":
		p["description"] = "Only cases of this service id."
		p["schema"] = obj{"type": "string"}
	case "breached":
		p["description"] = "true: only cases that breached an SLA target; false: only cases that did not."
		p["schema"] = obj{"type": "boolean"}
	case "priority":
		p["description"] = "Only cases of this priority."
		p["schema"] = obj{"type": "string", "enum": policy.Priorities()}
	case "major":
		p["description"] = "true: only major incidents; false: only the others."
		p["schema"] = obj{"type": "boolean"}
	default:
		return nil, false
	}
	return p, true
}

// actionSchema is the body of POST /api/v1/{kind}/{id}/actions for one
// kind: the action names, the fields those actions read, and which fields
// each action needs (JSON Schema if/then).
func (s *schemaSet) actionSchema(k cases.Kind, d kindDoc, body []field) obj {
	byName := map[string]field{}
	var all []string
	for _, f := range body {
		byName[f.name] = f
		all = append(all, f.name)
	}
	readers := map[string][]string{} // field -> the actions that read it
	var names []string
	var rules []obj
	// A field an action needs is present and not empty: a text not "", a
	// list not [], a true-or-false not null.
	nonEmpty := func(f string) obj {
		p := obj{"minLength": 1}
		if bf, ok := byName[f]; ok {
			switch bf.typ.Kind() {
			case reflect.Slice:
				p = obj{"minItems": 1}
			case reflect.Pointer:
				p = obj{"not": obj{"type": "null"}}
			}
		}
		return obj{"required": []string{f}, "properties": obj{f: p}}
	}
	for _, a := range d.actions {
		names = append(names, a.name)
		for _, f := range slices.Concat(a.required, a.oneOf, a.optional) {
			if _, ok := byName[f]; !ok || f == "action" {
				s.fail("action %s of %s reads %q, which is not a field of actionBody", a.name, k.Name, f)
				continue
			}
			readers[f] = append(readers[f], a.name)
		}
		var then []obj
		for _, f := range a.required {
			then = append(then, nonEmpty(f))
		}
		if len(a.oneOf) > 0 {
			var alts []obj
			for _, f := range a.oneOf {
				alts = append(alts, nonEmpty(f))
			}
			then = append(then, obj{"anyOf": alts})
		}
		if len(then) > 0 {
			cond := obj{"allOf": then}
			if len(then) == 1 {
				cond = then[0]
			}
			rules = append(rules, obj{
				"if":   obj{"required": []string{"action"}, "properties": obj{"action": obj{"const": a.name}}},
				"then": cond,
			})
		}
	}
	var lines []string
	for _, a := range d.actions {
		lines = append(lines, "- `"+a.name+"`: "+a.summary)
	}
	props := obj{"action": obj{"type": "string", "enum": names, "description": "The action to apply:\n" + strings.Join(lines, "\n")}}
	for _, f := range body {
		if f.name == "action" || len(readers[f.name]) == 0 {
			continue
		}
		p := merge(s.schema(f.typ), s.note("actionBody", f.name))
		read := "Read by " + strings.Join(readers[f.name], ", ") + "."
		if desc, ok := p["description"].(string); ok {
			read = desc + " " + read
		}
		p["description"] = read
		props[f.name] = p
	}
	sch := obj{
		"type":        "object",
		"description": "An action and the fields it reads. A field of another kind's actions is accepted and ignored; any other field is refused (422).",
		"required":    []string{"action"},
		"properties":  props,
		// The body decodes into one struct for every kind.
		"propertyNames": obj{"enum": all},
	}
	if len(rules) > 0 {
		sch["allOf"] = rules
	}
	// The action notes are used per kind; mark the ones of fields this kind
	// skips too, so an unread field's note is not taken for a stale one.
	for _, f := range body {
		s.used["actionBody."+f.name] = true
	}
	return sch
}

// configurationPaths adds the routes of configurationRoutes: the change
// schedule, a change's evidence, the CMDB and its baselines, the known
// errors and the problem trend report.
func (s *schemaSet) configurationPaths(paths obj) {
	const (
		readers = "Needs the agent, admin or process_owner role."
		writers = "Needs the agent or admin role."
	)
	items := func(name string, item obj, desc string) obj {
		s.define(name, obj{
			"type":       "object",
			"required":   []string{"items"},
			"properties": obj{"items": obj{"type": "array", "items": item, "description": desc}},
		})
		return schemaRef(name)
	}
	query := func(name, desc string, schema obj) obj {
		return obj{"name": name, "in": "query", "required": false, "description": desc, "schema": schema}
	}
	limit := func(def, max int) obj {
		return query("limit", "How many, at most.", obj{"type": "integer", "minimum": 1, "maximum": max, "default": def})
	}
	pathParam := func(name, desc string, schema obj) obj {
		return obj{"name": name, "in": "path", "required": true, "description": desc, "schema": schema}
	}
	body := func(schema obj) obj {
		return obj{"required": true, "content": obj{"application/json": obj{"schema": schema}}}
	}
	ciID := pathParam("id", "The CI's id.", obj{"type": "string"})
	bodyErrors := "an unknown field, malformed JSON or an oversized body"

	ci := s.ref(reflect.TypeFor[store.CI]())
	ciRecord := s.ref(reflect.TypeFor[cases.CIRecord]())
	baseline := s.ref(reflect.TypeFor[store.Baseline]())
	writeCI := schemaRef(s.input(reflect.TypeFor[cases.WriteCI](), []string{"change"}))
	takeBaseline := schemaRef(s.input(reflect.TypeFor[cases.TakeBaseline](), []string{"name", "cis"}))

	s.define("ChangeSchedule", obj{
		"type":     "object",
		"required": []string{"from", "to", "items", "blackouts"},
		"properties": obj{
			"from": obj{"type": "string", "format": "date-time", "description": "The start of the period."},
			"to":   obj{"type": "string", "format": "date-time", "description": "The end of the period."},
			"items": obj{
				"type": "array", "items": s.ref(reflect.TypeFor[cases.ScheduleItem]()),
				"description": "The changes whose window overlaps the period and that are scheduled, implementing or past their implementation, by start, then id.",
			},
			"blackouts": obj{
				"type": "array", "items": s.ref(reflect.TypeFor[policy.Blackout]()),
				"description": "The blackouts of change_policy.blackouts that overlap the period: no change but an emergency change is scheduled in them.",
			},
		},
	})
	paths["/api/v1/changes/schedule"] = obj{"get": obj{
		"operationId": "getChangeSchedule",
		"summary":     "The change schedule",
		"description": "The changes with a window in the period, each with the changes it conflicts with, and the blackouts. " +
			"format=ics, or an Accept header naming text/calendar without format, answers with an RFC 5545 calendar to subscribe to: one event per change (UID <id>@kanri) and one per blackout. " + readers,
		"tags": []string{"changes"},
		"parameters": []obj{
			query("from", "RFC 3339; 24 hours ago by default.", obj{"type": "string", "format": "date-time"}),
			query("to", "RFC 3339; 30 days from now by default. After from, and at most 366 days after it.", obj{"type": "string", "format": "date-time"}),
			query("format", "json (the default) or ics.", obj{"type": "string", "enum": []string{"json", "ics"}}),
		},
		"responses": obj{
			"200": obj{
				"description": "The schedule.",
				"content": obj{
					"application/json": obj{"schema": schemaRef("ChangeSchedule")},
					"text/calendar":    obj{"schema": obj{"type": "string"}},
				},
			},
			"401": problemRef(401, ""),
			"403": problemRef(403, readers),
			"422": problemRef(422, "An unknown parameter, a time that is not RFC 3339, a to not after from, a period over 366 days, or a format other than json or ics."),
		},
	}}
	paths["/api/v1/changes/{id}/evidence"] = obj{
		"parameters": []obj{pathParam("id", "The change's id.", obj{"type": "string", "examples": []string{"CHG-000001"}})},
		"get": obj{
			"operationId": "getChangeEvidence",
			"summary":     "A change's audit evidence",
			"description": "What an auditor samples for one change: its record, the records of its releases, the CI revisions it wrote and its history. " + readers,
			"tags":        []string{"changes"},
			"responses": obj{
				"200": jsonResponse("The evidence.", s.ref(reflect.TypeFor[cases.Evidence]())),
				"401": problemRef(401, ""),
				"403": problemRef(403, readers),
				"404": problemRef(404, "No such change."),
			},
		},
	}

	writeErrors := "an unknown change, a new CI without a type and a name, a type, status or relation type outside its set, an unknown relation target, " + bodyErrors
	writeConflict := "No change named, or the change did not complete successfully, does not cover the CI, or already wrote a revision of it: configuration data changes only through a change."
	paths["/api/v1/cis"] = obj{
		"get": obj{
			"operationId": "listCIs",
			"summary":     "List CIs, by id",
			"description": "The current revision of each CI. " + readers,
			"tags":        []string{"cmdb"},
			"parameters": []obj{
				query("type", "Only CIs of this type, one of the configuration's cmdb.ci_types.", obj{"type": "string"}),
				query("status", "Only CIs in this status.", obj{"type": "string", "enum": policy.CIStatuses()}),
				query("q", "Only CIs whose id or name contains this, ignoring case.", obj{"type": "string"}),
				limit(50, 200),
			},
			"responses": obj{
				"200": jsonResponse("The CIs.", items("CIList", ci, "By id.")),
				"401": problemRef(401, ""),
				"403": problemRef(403, readers),
				"422": problemRef(422, "An unknown parameter, a type not in cmdb.ci_types, or a limit outside 1–200."),
			},
		},
		"post": obj{
			"operationId": "createCI",
			"summary":     "Record a revision of a CI named in the body",
			"description": "Registers a CI, or records a new revision of one, under the change that authorises it; the same as PATCH /api/v1/cis/{id}. " + writers,
			"tags":        []string{"cmdb"},
			"requestBody": body(obj{"allOf": []obj{writeCI, {"required": []string{"id"}, "properties": obj{"id": obj{"minLength": 1}}}}}),
			"responses": obj{
				"201": jsonResponse("The CI with its revisions.", ciRecord),
				"401": problemRef(401, ""),
				"403": problemRef(403, writers),
				"409": problemRef(409, writeConflict),
				"422": problemRef(422, "No id, "+writeErrors+"."),
			},
		},
	}
	paths["/api/v1/cis/{id}"] = obj{
		"parameters": []obj{ciID},
		"get": obj{
			"operationId": "getCI",
			"summary":     "A CI and every revision of it",
			"description": readers,
			"tags":        []string{"cmdb"},
			"responses": obj{
				"200": jsonResponse("The CI with its revisions.", ciRecord),
				"401": problemRef(401, ""),
				"403": problemRef(403, readers),
				"404": problemRef(404, "No such CI."),
			},
		},
		"patch": obj{
			"operationId": "updateCI",
			"summary":     "Record a revision of a CI",
			"description": "Sets the fields the body names (an empty attribute value removes the attribute; relations, when present, replace the CI's) as a new revision under the change that authorises it. A CI not in the CMDB yet is registered, which needs a type and a name. " + writers,
			"tags":        []string{"cmdb"},
			"requestBody": body(writeCI),
			"responses": obj{
				"200": jsonResponse("The CI with its revisions.", ciRecord),
				"401": problemRef(401, ""),
				"403": problemRef(403, writers),
				"409": problemRef(409, writeConflict),
				"422": problemRef(422, "An id in the body other than the path's, "+writeErrors+"."),
			},
		},
	}
	paths["/api/v1/cis/{id}/impact"] = obj{
		"parameters": []obj{ciID},
		"get": obj{
			"operationId": "getCIImpact",
			"summary":     "What a CI's failure or change affects",
			"description": "Every CI that depends on it, directly or not, whatever the relation type, and every service that contains it or an impacted CI. " + readers,
			"tags":        []string{"cmdb"},
			"responses": obj{
				"200": jsonResponse("The impact.", s.ref(reflect.TypeFor[store.Impact]())),
				"401": problemRef(401, ""),
				"403": problemRef(403, readers),
				"404": problemRef(404, "No such CI."),
			},
		},
	}
	paths["/api/v1/baselines"] = obj{
		"get": obj{
			"operationId": "listBaselines",
			"summary":     "List baselines, oldest first",
			"description": readers,
			"tags":        []string{"cmdb"},
			"parameters":  []obj{query("release", "Only the baselines this release took.", obj{"type": "string", "examples": []string{"REL-000001"}})},
			"responses": obj{
				"200": jsonResponse("The baselines, with their items.", items("BaselineList", baseline, "Oldest first.")),
				"401": problemRef(401, ""),
				"403": problemRef(403, readers),
				"422": problemRef(422, "An unknown parameter."),
			},
		},
		"post": obj{
			"operationId": "createBaseline",
			"summary":     "Take a baseline",
			"description": "Freezes the current revision of each CI under a name. A release takes its own before it deploys. " + writers,
			"tags":        []string{"cmdb"},
			"requestBody": body(takeBaseline),
			"responses": obj{
				"201": jsonResponse("The baseline.", baseline),
				"401": problemRef(401, ""),
				"403": problemRef(403, writers),
				"409": problemRef(409, "A baseline of that name exists."),
				"422": problemRef(422, "A missing or overlong name, no cis, a CI not in the CMDB, "+bodyErrors+"."),
			},
		},
	}
	paths["/api/v1/baselines/{name}"] = obj{
		"parameters": []obj{pathParam("name", "The baseline's name, percent-encoded.", obj{"type": "string"})},
		"get": obj{
			"operationId": "getBaseline",
			"summary":     "A baseline",
			"description": readers,
			"tags":        []string{"cmdb"},
			"responses": obj{
				"200": jsonResponse("The baseline.", baseline),
				"401": problemRef(401, ""),
				"403": problemRef(403, readers),
				"404": problemRef(404, "No such baseline."),
			},
		},
	}
	paths["/api/v1/known-errors"] = obj{"get": obj{
		"operationId": "searchKnownErrors",
		"summary":     "Search the known errors, newest first",
		"description": "The problems with a recorded root cause, for incident management: their workarounds. " + readers,
		"tags":        []string{"problems"},
		"parameters": []obj{
			query("q", "Only known errors whose title, root cause or workaround contains this (ignoring case where the database folds it); every one when empty.", obj{"type": "string", "maxLength": 300}),
			limit(50, 200),
		},
		"responses": obj{
			"200": jsonResponse("The known errors.", items("KnownErrorList", s.ref(reflect.TypeFor[store.KnownError]()), "Newest first.")),
			"401": problemRef(401, ""),
			"403": problemRef(403, readers),
			"422": problemRef(422, "An unknown parameter, a q over 300 characters, or a limit outside 1–200."),
		},
	}}
	paths["/api/v1/reports/problems"] = obj{"get": obj{
		"operationId": "reportProblemTrends",
		"summary":     "Problem trends: the incidents per problem",
		"description": "Reads the newest problems, up to limit, and lists them by how many incidents each explains, most first. " + readers,
		"tags":        []string{"reports"},
		"parameters":  []obj{limit(100, 1000)},
		"responses": obj{
			"200": jsonResponse("The report.", items("ProblemTrendList", s.ref(reflect.TypeFor[cases.ProblemTrend]()), "Most incidents first.")),
			"401": problemRef(401, ""),
			"403": problemRef(403, readers),
			"422": problemRef(422, "An unknown parameter, or a limit outside 1–1000."),
		},
	}}
}

func systemPaths(paths obj) {
	public := []obj{}
	status := func(v string) obj {
		return obj{"type": "object", "required": []string{"status"}, "properties": obj{"status": obj{"const": v}}}
	}
	paths["/healthz"] = obj{"get": obj{
		"operationId": "healthz", "summary": "200 while the process is up", "tags": []string{"system"}, "security": public,
		"responses": obj{"200": jsonResponse("Up.", status("ok"))},
	}}
	paths["/readyz"] = obj{"get": obj{
		"operationId": "readyz", "summary": "200 once the engine, database and workers are ready", "tags": []string{"system"}, "security": public,
		"responses": obj{
			"200": jsonResponse("Ready.", status("ready")),
			"503": problemRef(503, "Not ready; detail says what is missing."),
		},
	}}
	paths["/metrics"] = obj{"get": obj{
		"operationId": "metrics", "summary": "Prometheus metrics", "tags": []string{"system"}, "security": public,
		"responses": obj{"200": obj{
			"description": "The Prometheus exposition format.",
			"content":     obj{"text/plain": obj{"schema": obj{"type": "string"}}},
		}},
	}}
	page := func(desc string) obj {
		return obj{"description": desc, "content": obj{"text/html": obj{"schema": obj{"type": "string"}}}}
	}
	token := []obj{{"name": "t", "in": "query", "required": true, "description": "The signed, single-use, expiring decision token from the approval mail.", "schema": obj{"type": "string"}}}
	decided := obj{
		"200": page("GET: what the link will decide, with a button to confirm. POST: the decision is recorded."),
		"400": page("The link is not valid (a forged or damaged token)."),
		"403": page("The approver may not decide on this case (not in its approving group, or its requester)."),
		"404": page("Decision links are off (email.base_url is not configured), or the case does not exist."),
		"409": page("The link was used already, or the case no longer waits for this decision."),
		"410": page("The link has expired."),
	}
	paths["/mail/decide"] = obj{
		"get": obj{"operationId": "decisionLinkPage", "summary": "The page of an approval mail's decision link; a GET never decides, since mail scanners fetch links",
			"tags": []string{"email"}, "security": public, "parameters": token, "responses": decided},
		"post": obj{"operationId": "decisionLinkDecide", "summary": "Decide as the approver the link names, once",
			"tags": []string{"email"}, "security": public, "parameters": token, "responses": decided},
	}
	for _, p := range []string{"commands", "interactions", "events"} {
		paths["/slack/"+p] = obj{"post": obj{
			"operationId": "slack" + camel(p), "summary": "Slack's " + p + " (signed by Slack with the signing secret; answered within three seconds)",
			"tags": []string{"slack"}, "security": public,
			"responses": obj{
				"200": obj{"description": "Acknowledged; the work goes on in the background and answers through Slack."},
				"401": obj{"description": "The signature, timestamp or workspace is wrong, or the request is a replay."},
				"404": problemRef(404, "Slack is not configured."),
				"413": obj{"description": "The body is too large."},
			},
		}}
	}
	paths["/api/v1/me/slack-link"] = obj{"post": obj{
		"operationId": "slackLinkCode", "summary": "A one-time code the signed-in user types in Slack (/kanri link <code>) to link their Slack account",
		"tags": []string{"slack"},
		"responses": obj{
			"201": jsonResponse("The code and when it expires.", obj{"type": "object", "required": []string{"code", "expires_at", "usage"},
				"properties": obj{"code": obj{"type": "string"}, "expires_at": obj{"type": "string", "format": "date-time"}, "usage": obj{"type": "string"}}}),
			"401": problemRef(401, "No token, or an unknown one."),
			"404": problemRef(404, "Slack is not configured."),
		},
	}}
	paths["/api/v1/openapi.json"] = obj{"get": obj{
		"operationId": "openapi", "summary": "This document", "tags": []string{"system"}, "security": public,
		"responses": obj{"200": jsonResponse("The OpenAPI 3.1 document.", obj{"type": "object"})},
	}}
}

// problemStatus is one of the shared problem responses.
type problemStatus struct {
	code int
	name string
	desc string
}

func problemStatuses() []problemStatus {
	return []problemStatus{
		{401, "Unauthorized", "No Authorization: Bearer header, or a token that is not known."},
		{403, "Forbidden", "The user's role or group membership does not allow this."},
		{404, "NotFound", "Unknown id, or a case the user may not read."},
		{409, "Conflict", "The action is not allowed in the case's current status, or the case has ended."},
		{422, "UnprocessableEntity", "Invalid input."},
		{503, "ServiceUnavailable", "The workflow engine did not answer in time; no worker may be running."},
	}
}

func problemResponses() obj {
	out := obj{}
	for _, p := range problemStatuses() {
		r := obj{
			"description": p.desc,
			"content":     obj{"application/problem+json": obj{"schema": schemaRef("ProblemDetails")}},
		}
		if p.code == 401 {
			r["headers"] = obj{"WWW-Authenticate": obj{"description": `Bearer realm="kanri"`, "schema": obj{"type": "string"}}}
		}
		out[p.name] = r
	}
	return out
}

// problemRef refers to a shared problem response; desc, when set, says
// what the status means for this operation.
func problemRef(code int, desc string) obj {
	for _, p := range problemStatuses() {
		if p.code == code {
			r := obj{"$ref": "#/components/responses/" + p.name}
			if desc != "" {
				r["description"] = desc
			}
			return r
		}
	}
	panic(fmt.Sprintf("openapi: no problem response for %d", code))
}

func jsonResponse(desc string, schema obj) obj {
	return obj{"description": desc, "content": obj{"application/json": obj{"schema": schema}}}
}

func schemaRef(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

// merge returns a new object with b's keys over a's.
func merge(a, b obj) obj {
	out := make(obj, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// camel turns a kind name into an identifier part: supplier-reviews ->
// SupplierReviews.
func camel(s string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '_' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// schemaNames name the component schema of a type whose own name another
// type of the document has.
func schemaNames() map[reflect.Type]string {
	return map[reflect.Type]string{
		// store.Baseline is the one GET /api/v1/baselines shows.
		reflect.TypeFor[activities.Baseline](): "ReleaseBaseline",
		// The service report's list of open corrective actions.
		reflect.TypeFor[store.OpenCorrective](): "ReportedCorrectiveAction",
	}
}

// schemaName is the component name of a named type.
func schemaName(t reflect.Type) string {
	if n, ok := schemaNames()[t]; ok {
		return n
	}
	return t.Name()
}

// sometimesAbsent are members without omitempty that are nonetheless not
// always there, by component name and JSON name: a type that is both sent
// and shown, where a client may leave the member out.
func sometimesAbsent() map[string]bool {
	return map[string]bool{
		// Relations: nil keeps the CI's relations as they are.
		"CIUpdate.relations": true,
	}
}

// schemaSet turns Go types into component schemas, the way encoding/json
// renders them.
type schemaSet struct {
	defs  obj
	types map[string]reflect.Type // component name -> the type it describes
	notes map[string]obj
	used  map[string]bool
	err   error
}

func (s *schemaSet) fail(format string, args ...any) {
	s.err = errors.Join(s.err, fmt.Errorf(format, args...))
}

func (s *schemaSet) note(typeName, field string) obj {
	key := typeName + "." + field
	if n, ok := s.notes[key]; ok {
		s.used[key] = true
		return n
	}
	return nil
}

// field is one JSON member of a struct.
type field struct {
	name string
	typ  reflect.Type
	// optional: omitempty or omitzero, or the member of an embedded
	// pointer, which is absent when the pointer is nil.
	optional bool
	owner    reflect.Type // the struct that declares it
}

// fields lists a struct's JSON members as encoding/json sees them:
// exported, not "-", the members of embedded structs promoted unless a
// shallower member or, at the same depth, a single tagged member has the
// same name (two at the same depth cancel out), in the order of the Go
// fields.
func (s *schemaSet) fields(t reflect.Type, where string) []field {
	type candidate struct {
		field
		index  []int
		tagged bool
	}
	var all []candidate
	var walk func(t reflect.Type, index []int, viaPointer bool, outer []reflect.Type)
	walk = func(t reflect.Type, index []int, viaPointer bool, outer []reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			options := strings.Split(opts, ",")
			ft := f.Type
			if f.Anonymous {
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if !f.IsExported() && ft.Kind() != reflect.Struct {
					continue
				}
			} else if !f.IsExported() {
				continue
			}
			at := append(slices.Clone(index), i)
			if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
				if !slices.Contains(outer, ft) { // encoding/json visits a type once
					walk(ft, at, viaPointer || f.Type.Kind() == reflect.Pointer, append(slices.Clone(outer), ft))
				}
				continue
			}
			if slices.Contains(options, "string") {
				s.fail("%s.%s: the json string option is not supported", where, f.Name)
			}
			c := candidate{index: at, tagged: name != ""}
			if name == "" {
				name = f.Name
			}
			c.field = field{
				name:     name,
				typ:      f.Type,
				optional: viaPointer || slices.Contains(options, "omitempty") || slices.Contains(options, "omitzero"),
				owner:    t,
			}
			all = append(all, c)
		}
	}
	walk(t, nil, false, []reflect.Type{t})
	byName := map[string][]candidate{}
	for _, c := range all {
		byName[c.name] = append(byName[c.name], c)
	}
	var kept []candidate
	for _, cs := range byName {
		depth := slices.MinFunc(cs, func(a, b candidate) int { return len(a.index) - len(b.index) })
		var top, tagged []candidate
		for _, c := range cs {
			if len(c.index) == len(depth.index) {
				top = append(top, c)
				if c.tagged {
					tagged = append(tagged, c)
				}
			}
		}
		switch {
		case len(top) == 1:
			kept = append(kept, top[0])
		case len(tagged) == 1:
			kept = append(kept, tagged[0])
		}
	}
	slices.SortFunc(kept, func(a, b candidate) int { return slices.Compare(a.index, b.index) })
	out := make([]field, len(kept))
	for i, c := range kept {
		out[i] = c.field
	}
	return out
}

// define adds a schema that reflection does not make.
func (s *schemaSet) define(name string, sch obj) {
	if _, taken := s.defs[name]; taken {
		s.fail("two schemas are called %s", name)
	}
	s.defs[name] = sch
}

// ref returns a reference to the component schema of a named struct,
// defining it on first use. Every member without omitempty is always
// present in the JSON, so it is required. A member promoted from an
// embedded struct takes the notes of the struct that declares it, and then
// those of t.
func (s *schemaSet) ref(t reflect.Type) obj {
	name := schemaName(t)
	if prev, ok := s.types[name]; ok {
		if prev != t {
			s.fail("two types are called %s: %v and %v; name one in schemaNames", name, prev, t)
		}
		return schemaRef(name)
	}
	if _, taken := s.defs[name]; taken {
		s.fail("the schema name of %v is taken", t)
	}
	s.types[name] = t
	s.defs[name] = obj{} // a placeholder, in case the type refers to itself
	props := obj{}
	required := []string{}
	absent := sometimesAbsent()
	for _, f := range s.fields(t, name) {
		note := s.note(schemaName(f.owner), f.name)
		if f.owner != t {
			note = merge(note, s.note(name, f.name))
		}
		props[f.name] = merge(s.schema(f.typ), note)
		if !f.optional && !absent[schemaName(f.owner)+"."+f.name] {
			required = append(required, f.name)
		}
	}
	s.defs[name] = obj{"type": "object", "required": required, "properties": props}
	return schemaRef(name)
}

// input defines the component schema of a request body: the handlers
// decode strictly, so no other member is allowed.
func (s *schemaSet) input(t reflect.Type, required []string) string {
	s.ref(t)
	name := schemaName(t)
	def := s.defs[name].(obj)
	props := def["properties"].(obj)
	for _, r := range required {
		if _, ok := props[r]; !ok {
			s.fail("%s has no field %q to require", name, r)
			continue
		}
		// A required text must not be empty either, nor a required list.
		p := props[r].(obj)
		_, enum := p["enum"]
		_, pattern := p["pattern"]
		switch p["type"] {
		case "string":
			if !enum && !pattern {
				p["minLength"] = 1
			}
		case "array":
			p["minItems"] = 1
		}
	}
	def["required"] = required
	def["additionalProperties"] = false
	return name
}

// schema describes how encoding/json renders a value of type t.
func (s *schemaSet) schema(t reflect.Type) obj {
	if t.Kind() == reflect.Pointer {
		return nullable(s.schema(t.Elem()))
	}
	switch t {
	case reflect.TypeFor[time.Time]():
		return obj{"type": "string", "format": "date-time"}
	case reflect.TypeFor[json.RawMessage]():
		return obj{} // any JSON value
	}
	if t.Implements(reflect.TypeFor[json.Marshaler]()) || t.Implements(reflect.TypeFor[encoding.TextMarshaler]()) {
		s.fail("%v marshals itself; teach schemaSet.schema what it renders", t)
		return obj{}
	}
	switch t.Kind() {
	case reflect.String:
		return obj{"type": "string"}
	case reflect.Bool:
		return obj{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32:
		return obj{"type": "integer"}
	case reflect.Int64:
		return obj{"type": "integer", "format": "int64"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return obj{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return obj{"type": "number"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return obj{"type": "string", "contentEncoding": "base64"}
		}
		// encoding/json renders a nil slice as null; the records always
		// hold empty slices, so the schema says array.
		return obj{"type": "array", "items": s.schema(t.Elem())}
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			s.fail("%v: only maps with string keys are supported", t)
		}
		return obj{"type": "object", "additionalProperties": s.schema(t.Elem())}
	case reflect.Struct:
		if t.Name() == "" {
			s.fail("%v: anonymous structs are not supported", t)
			return obj{"type": "object"}
		}
		return s.ref(t)
	case reflect.Interface:
		return obj{}
	}
	s.fail("%v cannot be rendered as JSON", t)
	return obj{}
}

// nullable lets a schema also be null, the way a nil pointer renders.
func nullable(sch obj) obj {
	if _, ok := sch["$ref"]; ok {
		return obj{"oneOf": []obj{sch, {"type": "null"}}}
	}
	if t, ok := sch["type"].(string); ok {
		out := merge(sch, nil)
		out["type"] = []string{t, "null"}
		return out
	}
	return sch
}
