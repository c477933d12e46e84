package api

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/policy"
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
	statuses     []string
	actions      []actionDoc // exactly what the workflow's validator accepts
}

// actionDoc is one action and the actionBody fields it reads.
type actionDoc struct {
	name     string
	summary  string
	required []string // must be present and non-empty
	oneOf    []string // at least one of these must be non-empty
	optional []string
}

func kindDocs() map[string]kindDoc {
	link := actionDoc{name: "link", summary: "Relate the case to another case.", required: []string{"kind", "id", "relation"}}
	return map[string]kindDoc{
		"incidents": {
			record:       reflect.TypeFor[workflows.Incident](),
			open:         reflect.TypeFor[cases.OpenIncident](),
			openRequired: []string{"title", "service", "impact", "urgency"},
			statuses: []string{
				workflows.StatusLogged, workflows.StatusAssigned, workflows.StatusInProgress,
				workflows.StatusPending, workflows.StatusResolved, workflows.StatusClosed,
			},
			actions: []actionDoc{
				{name: "assign", summary: "Assign to a user, a group or both; a logged incident becomes assigned.", oneOf: []string{"assignee", "group"}},
				{name: "start", summary: "The first response: the incident goes in_progress and the response clock stops."},
				{name: "comment", summary: "Add a comment.", required: []string{"body"}},
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
				{name: "comment", summary: "Add a comment.", required: []string{"body"}},
				link,
			},
		},
		"problems": {
			record:       reflect.TypeFor[workflows.Problem](),
			open:         reflect.TypeFor[cases.OpenProblem](),
			openRequired: []string{"title", "impact", "urgency"},
			statuses: []string{
				workflows.PrbLogged, workflows.PrbInvestigating, workflows.PrbKnownError, workflows.PrbResolved, workflows.PrbClosed,
			},
			actions: []actionDoc{
				{name: "assign", summary: "Assign to a user, a group or both.", oneOf: []string{"assignee", "group"}},
				{name: "investigate", summary: "Begin the investigation: logged to investigating."},
				{name: "record_known_error", summary: "Record the root cause and workaround: a known error, published to incident management. needs_change says a CI must change.", required: []string{"root_cause"}, optional: []string{"workaround", "needs_change"}},
				{name: "raise_rfc", summary: "Raise a request for change for the CI change; the change is a case of its own, linked to the problem.", required: []string{"type", "backout_plan"}},
				{name: "resolve", summary: "Resolve; a problem that needs a CI change must have raised an RFC first.", required: []string{"resolution"}},
				{name: "review", summary: "Review the effectiveness of the resolution (process owners).", required: []string{"summary"}},
				{name: "close", summary: "Close a resolved problem after its review."},
				{name: "comment", summary: "Add a comment.", required: []string{"body"}},
				link,
			},
		},
		"changes": {
			record:       reflect.TypeFor[workflows.Change](),
			open:         reflect.TypeFor[cases.OpenChange](),
			openRequired: []string{"title", "type"},
			statuses: []string{
				workflows.ChgRequested, workflows.ChgAssessed, workflows.ChgAwaitingApproval, workflows.ChgApproved,
				workflows.ChgRejected, workflows.ChgScheduled, workflows.ChgImplementing, workflows.ChgCompleted,
				workflows.ChgFailed, workflows.ChgBackedOut, workflows.ChgReviewed, workflows.ChgClosed,
			},
			actions: []actionDoc{
				{name: "assess", summary: "Record the assessment a decision rests on: requested to assessed.", required: []string{"risk", "impact", "benefit", "feasibility", "cost"}, optional: []string{"security"}},
				{name: "submit", summary: "Submit an assessed change for approval by the change policy's group.", optional: []string{}},
				{name: "approve", summary: "Approve, as a member of the approving group who did not request the change; the quorum approves it.", optional: []string{"comment"}},
				{name: "reject", summary: "Reject, as a member of the approving group; one rejection rejects the change.", optional: []string{"comment"}},
				{name: "schedule", summary: "Schedule an approved change (RFC 3339 times).", required: []string{"start", "end"}},
				{name: "implement", summary: "Begin the implementation of an approved or scheduled change."},
				{name: "complete", summary: "End the implementation: completed on success, failed otherwise.", required: []string{"success"}, optional: []string{"notes"}},
				{name: "back_out", summary: "Back out a failed or running implementation.", optional: []string{"reason"}},
				{name: "review", summary: "The post-implementation review (process owners).", required: []string{"summary"}},
				{name: "close", summary: "Close a reviewed change (a completed standard change needs no review)."},
				{name: "comment", summary: "Add a comment.", required: []string{"body"}},
				link,
			},
		},
	}
}

// fieldNotes are merged into the schema that reflection makes of a field,
// keyed by Go type name and JSON name. The notes that depend on the kind
// (id, kind, status) are added by buildOpenAPI.
func fieldNotes(kinds []cases.Kind) map[string]obj {
	levels := policy.Levels()
	var names, prefixes []string
	for _, k := range kinds {
		names = append(names, k.Name)
		prefixes = append(prefixes, k.Prefix)
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
	return map[string]obj{
		"Incident.impact":             {"enum": levels},
		"Incident.urgency":            {"enum": levels},
		"Incident.priority":           {"enum": policy.Priorities(), "description": "priority_matrix[impact][urgency], at creation and on reclassify."},
		"Incident.service":            {"description": "The id of a service of the service catalogue."},
		"Incident.assignee":           {"description": "A user id; empty while unassigned."},
		"Incident.group":              {"description": "The group that holds the incident; it moves along escalation.functional on escalation."},
		"Incident.escalation_level":   {"minimum": 0, "description": "Functional escalations so far; 0 when never escalated."},
		"Incident.hierarchical_level": {"minimum": 0, "maximum": 2, "description": "Hierarchical escalation after the resolution target: 0 none, 1 the group's manager, 2 top management."},
		"Incident.major_manager":      {"description": "The manager named by declare_major."},
		"Incident.major_review":       {"description": "Set by review_major; a major incident closes only after it."},
		"Incident.caller":             {"description": "The user the incident is for."},
		"Incident.waiting_for":        {"description": "What the workflow is waiting on, in words; empty when closed."},
		"IncidentSLA.breached":        breached,
		"IncidentSLA.responded_at":    {"description": "When the first start was applied."},
		"IncidentSLA.paused":          {"description": "True while pending: both clocks are stopped."},
		"IncidentSLA.warned":          {"description": "True once the early warning went to the group's manager."},
		"Request.item":                {"description": "The id of the request catalogue item."},
		"Request.item_name":           {"description": "The catalogue item's name."},
		"Request.approval":            {"description": "The approval the item needs; null when it needs none."},
		"Request.approvals":           {"description": "Every decision on the request, oldest first."},
		"Request.waiting_for":         {"description": "What the workflow is waiting on, in words; empty when it has ended."},
		"RequestSLA.response_due":     {"description": "Null while the request awaits approval: the clocks start when it may be worked on."},
		"RequestSLA.resolution_due":   {"description": "Null while the request awaits approval."},
		"RequestSLA.breached":         breached,
		"RequestSLA.paused":           {"description": "True while pending: the clocks are stopped."},
		"RequestSLA.warned":           {"description": "True once the early warning went to the group's manager."},
		"Approval.decision":           {"enum": []string{"approved", "rejected"}},
		"Quorum.quorum":               {"minimum": 1, "description": "How many approvals the request needs."},
		"Change.type":                 {"enum": []string{"standard", "normal", "emergency", "major"}},
		"Problem.impact":              {"enum": levels},
		"Problem.urgency":             {"enum": levels},
		"Problem.priority":            {"enum": policy.Priorities()},
		"Problem.rfcs":                {"description": "The changes this problem raised, oldest first."},
		"Problem.needs_change":        {"description": "A CI must change: the problem resolves only after it raised an RFC."},
		"OpenProblem.title":           title,
		"OpenProblem.impact":          {"enum": levels},
		"OpenProblem.urgency":         {"enum": levels},
		"OpenProblem.incidents":       {"description": "Ids of the incidents the problem explains; each must exist."},
		"OpenChange.type":             {"enum": []string{"standard", "normal", "emergency", "major"}},
		"OpenChange.title":            title,
		"OpenChange.standard_change":  {"description": "Required for, and only for, type standard: a pre-approved change model of change_policy.standard_changes."},
		"OpenChange.backout_plan":     {"description": "Required for every type but standard."},
		"Change.approval":             {"description": "The group and quorum from change_policy.approvers; null for a standard change."},
		"Change.approvals":            {"description": "Every decision with who, when and comment, oldest first."},
		"Assessment.risk":             {"enum": levels},
		"Link.kind":                   {"enum": names},
		"Link.id":                     anyID,
		"HistoryItem.seq":             {"minimum": 1, "description": "The entry's number within its case, from 1."},
		"HistoryItem.actor":           {"description": "The user who acted, or system for what the workflow did by itself (timers)."},
		"HistoryItem.action":          {"description": "open, an action's name, or a transition of the workflow's own: sla_breach, sla_warning, escalate_hierarchical, auto_close, refused."},
		"HistoryItem.from":            {"description": "The status before; empty for the opening entry."},
		"HistoryItem.to":              {"description": "The status after."},
		"HistoryItem.detail":          {"type": "object", "description": "What the entry carried (reason, body, priorities, who was notified…); {} when nothing."},
		"OpenIncident.title":          title,
		"OpenIncident.description":    text,
		"OpenIncident.service":        {"description": "The id of a service of the service catalogue."},
		"OpenIncident.impact":         {"enum": levels},
		"OpenIncident.urgency":        {"enum": levels},
		"OpenIncident.caller":         caller,
		"OpenRequest.title":           title,
		"OpenRequest.description":     text,
		"OpenRequest.item":            {"description": "The id of a request catalogue item."},
		"OpenRequest.service":         {"description": "Optional: the id of a service of the service catalogue."},
		"OpenRequest.caller":          caller,
		"actionBody.assignee":         {"description": "A user id."},
		"actionBody.group":            {"description": "A group id."},
		"actionBody.impact":           {"enum": levels},
		"actionBody.urgency":          {"enum": levels},
		"actionBody.manager":          {"description": "A user id."},
		"actionBody.body":             text,
		"actionBody.reason":           text,
		"actionBody.resolution":       text,
		"actionBody.summary":          text,
		"actionBody.improvements":     text,
		"actionBody.comment":          text,
		"actionBody.kind":             {"enum": names, "description": "The kind of the case to link to."},
		"actionBody.id":               merge(anyID, obj{"description": "The id of the case to link to."}),
		"actionBody.relation":         {"description": "How the cases relate, for example caused_by."},
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
		rec := d.record.Name()
		s.notes[rec+".id"] = obj{"pattern": "^" + k.Prefix + "-[0-9]{6,}$", "examples": []string{k.Prefix + "-000001"}}
		s.notes[rec+".kind"] = obj{"const": k.Name}
		s.notes[rec+".status"] = obj{"enum": d.statuses}
		recRef := s.ref(d.record)
		openName := s.input(d.open, d.openRequired)
		actName := rec + "Action"
		s.define(actName, s.actionSchema(k, d, body))
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
			"description": "Kanri's HTTP API: ITSM cases (incidents, service requests, …) run as durable workflows. Errors are RFC 9457 problem documents.",
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
	rec := d.record.Name()
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
		"post": obj{
			"operationId": "create" + rec,
			"summary":     "Open a case of kind " + k.Name,
			"tags":        tags,
			"requestBody": obj{"required": true, "content": obj{"application/json": obj{"schema": schemaRef(openName)}}},
			"responses": obj{
				"201": jsonResponse("The new record, once it is in the database.", recRef),
				"401": problemRef(401, ""),
				"403": problemRef(403, "Only agents and admins may open a case for another caller."),
				"422": problemRef(422, "A missing or overlong field, a value outside its enum, an unknown service, item or caller, an unknown field, malformed JSON or an oversized body."),
				"503": problemRef(503, ""),
			},
		},
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
	paths[base+"/{id}/actions"] = obj{
		"parameters": []obj{idParam},
		"post": obj{
			"operationId": "act" + rec,
			"summary":     "Apply an action",
			"description": "Answers once the workflow has applied the action and the record is in the database.",
			"tags":        tags,
			"parameters": []obj{{
				"name": "Idempotency-Key", "in": "header", "required": false,
				"description": "Requests that repeat a key apply the action once: a retry or a double click is harmless.",
				"schema":      obj{"type": "string"},
			}},
			"requestBody": obj{"required": true, "content": obj{"application/json": obj{"schema": schemaRef(actName)}}},
			"responses": obj{
				"200": jsonResponse("The updated record.", recRef),
				"401": problemRef(401, ""),
				"403": problemRef(403, ""),
				"404": problemRef(404, ""),
				"409": problemRef(409, ""),
				"422": problemRef(422, "An unknown action, a field the action needs is missing, an unknown user, group or link target, an unknown field, malformed JSON or an oversized body."),
				"503": problemRef(503, ""),
			},
		},
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
	nonEmpty := func(f string) obj {
		return obj{"required": []string{f}, "properties": obj{f: obj{"minLength": 1}}}
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
	name      string
	typ       reflect.Type
	omitempty bool
}

// fields lists a struct's JSON members as encoding/json sees them:
// exported, not "-", embedded structs flattened.
func (s *schemaSet) fields(t reflect.Type, where string) []field {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				out = append(out, s.fields(ft, where)...)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if slices.Contains(strings.Split(opts, ","), "string") {
			s.fail("%s.%s: the json string option is not supported", where, f.Name)
		}
		out = append(out, field{name: name, typ: f.Type, omitempty: slices.Contains(strings.Split(opts, ","), "omitempty")})
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
// present in the JSON, so it is required.
func (s *schemaSet) ref(t reflect.Type) obj {
	name := t.Name()
	if prev, ok := s.types[name]; ok {
		if prev != t {
			s.fail("two types are called %s: %v and %v", name, prev, t)
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
	for _, f := range s.fields(t, name) {
		props[f.name] = merge(s.schema(f.typ), s.note(name, f.name))
		if !f.omitempty {
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
	name := t.Name()
	def := s.defs[name].(obj)
	props := def["properties"].(obj)
	for _, r := range required {
		if _, ok := props[r]; !ok {
			s.fail("%s has no field %q to require", name, r)
			continue
		}
		// A required text must not be empty either.
		p := props[r].(obj)
		_, enum := p["enum"]
		_, pattern := p["pattern"]
		if p["type"] == "string" && !enum && !pattern {
			p["minLength"] = 1
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
