package api

import (
	"reflect"
	"strings"
	"time"

	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/store"
)

// reportPaths adds the operations of the service reports and of the
// satisfaction surveys (api/reports.go) to the document's paths. Their
// schemas are inline, made from the Go types the handlers answer with, the
// way encoding/json renders them.
func reportPaths(paths map[string]any) {
	const readers = "Agents, admins and process owners read every service's report; a service owner reads the reports of the services they own."
	query := func(name, desc string, schema obj) obj {
		return obj{"name": name, "in": "query", "required": false, "description": desc, "schema": schema}
	}
	params := []obj{
		query("from", "The start of the period: an RFC 3339 time, or a date (YYYY-MM-DD, 00:00 UTC). Default: the first of the month in which the period ends.",
			obj{"type": "string"}),
		query("to", "The end of the period, exclusive: an RFC 3339 time, or a date, which includes its whole day (from=2026-03-01&to=2026-03-31 is March). Default: now.",
			obj{"type": "string"}),
		query("format", "json (the default) or csv; Accept: text/csv also asks for CSV.", obj{"type": "string", "enum": []string{"json", "csv"}}),
	}
	report := rptSchema(reflect.TypeFor[store.ServiceReport]())
	csvBody := obj{
		"type": "string",
		"description": "One figure a line: service,section,item,metric,value, after a header line. item names the case, target (kind/target/priority) or supplier " +
			"a figure belongs to; a percentage or average without a base is empty. Text that a spreadsheet would take for a formula starts with a quote.",
	}
	responses := func(ok obj, notFound string) obj {
		r := obj{
			"200": obj{"description": "The report.", "content": obj{"application/json": obj{"schema": ok}, "text/csv": obj{"schema": csvBody}}},
			"401": problemRef(401, ""),
			"403": problemRef(403, readers),
			"422": problemRef(422, "An unknown parameter, an unreadable from or to, from not before to, a period longer than 366 days, or a format other than json or csv."),
		}
		if notFound != "" {
			r["404"] = problemRef(404, notFound)
		}
		return r
	}
	desc := "Per service and period [from, to): SLA achievement per target (the incidents and requests opened in the period: met, breached, pending, achieved), " +
		"the breaches with their causes, workload, major incidents, changes (those whose services include the service: raised, emergency share, " +
		"implemented, success rate), problems and known errors, supplier performance (supplier reviews), complaints, satisfaction surveys, and the " +
		"open corrective actions. Figures that say open or pending are as they stand when the report is made."
	paths["/api/v1/reports/services"] = obj{"get": obj{
		"operationId": "reportServices",
		"summary":     "Service reports of every service",
		"description": desc + " " + readers,
		"tags":        []string{"reports"},
		"parameters":  params,
		"responses": responses(obj{
			"type":     "object",
			"required": []string{"from", "to", "generated_at", "items"},
			"properties": obj{
				"from":         obj{"type": "string", "format": "date-time"},
				"to":           obj{"type": "string", "format": "date-time"},
				"generated_at": obj{"type": "string", "format": "date-time"},
				"items":        obj{"type": "array", "items": report, "description": "One report per service, in catalogue order."},
			},
		}, ""),
	}}
	paths["/api/v1/reports/services/{id}"] = obj{
		"parameters": []obj{{"name": "id", "in": "path", "required": true, "description": "The service's id.", "schema": obj{"type": "string"}}},
		"get": obj{
			"operationId": "reportService",
			"summary":     "The service report of one service",
			"description": desc + " " + readers,
			"tags":        []string{"reports"},
			"parameters":  params,
			"responses":   responses(report, "The service is not in the service catalogue."),
		},
	}

	survey := rptSchema(reflect.TypeFor[store.Survey]())
	answer := rptSchema(reflect.TypeFor[cases.SurveyAnswer]())
	answer["additionalProperties"] = false
	answer["required"] = []string{"score"}
	answer["properties"].(obj)["score"] = obj{"type": "integer", "minimum": 1, "maximum": 5, "description": "1 very dissatisfied … 5 very satisfied."}
	answer["properties"].(obj)["comment"] = obj{"type": "string", "maxLength": 64 * 1024}
	for _, k := range cases.Kinds() {
		if !store.SurveyKind(k.Name) {
			continue
		}
		noun := strings.TrimSuffix(k.Name, "s")
		name := camel(noun)
		paths["/api/v1/"+k.Name+"/{id}/survey"] = obj{
			"parameters": []obj{{"name": "id", "in": "path", "required": true, "description": "The case id.",
				"schema": obj{"type": "string", "examples": []string{k.Prefix + "-000001"}}}},
			"get": obj{
				"operationId": "get" + name + "Survey",
				"summary":     "The satisfaction survey of a " + noun,
				"description": "Sent to the caller when the " + noun + " closes; status not_sent before. Staff, process owners and the caller read it.",
				"tags":        []string{k.Name},
				"responses": obj{
					"200": jsonResponse("The survey.", survey),
					"401": problemRef(401, ""),
					"403": problemRef(403, "Neither staff, a process owner nor the caller."),
					"404": problemRef(404, ""),
				},
			},
			"post": obj{
				"operationId": "answer" + name + "Survey",
				"summary":     "Answer the satisfaction survey of a closed " + noun,
				"description": "The caller answers once, with a score from 1 to 5 and an optional comment; the answer is final.",
				"tags":        []string{k.Name},
				"requestBody": obj{"required": true, "content": obj{"application/json": obj{"schema": answer}}},
				"responses": obj{
					"200": jsonResponse("The answered survey.", survey),
					"401": problemRef(401, ""),
					"403": problemRef(403, "Only the "+noun+"'s caller answers its survey."),
					"404": problemRef(404, ""),
					"409": problemRef(409, "The "+noun+" is not closed, closed without a survey, or the survey has been answered already."),
					"422": problemRef(422, "A score that is not a whole number from 1 to 5, an overlong comment, an unknown field, malformed JSON or an oversized body."),
				},
			},
		}
	}
}

// rptSchema describes how encoding/json renders a value of type t, inline:
// members without omitempty are required, pointers are nullable.
func rptSchema(t reflect.Type) obj {
	if t.Kind() == reflect.Pointer {
		s := rptSchema(t.Elem())
		if typ, ok := s["type"].(string); ok {
			s["type"] = []string{typ, "null"}
		}
		return s
	}
	if t == reflect.TypeFor[time.Time]() {
		return obj{"type": "string", "format": "date-time"}
	}
	switch t.Kind() {
	case reflect.String:
		return obj{"type": "string"}
	case reflect.Bool:
		return obj{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return obj{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return obj{"type": "number"}
	case reflect.Slice:
		return obj{"type": "array", "items": rptSchema(t.Elem())}
	case reflect.Array:
		return obj{"type": "array", "items": rptSchema(t.Elem()), "minItems": t.Len(), "maxItems": t.Len()}
	case reflect.Struct:
		props := obj{}
		required := []string{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			props[name] = rptSchema(f.Type)
			if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
				required = append(required, name)
			}
		}
		return obj{"type": "object", "required": required, "properties": props}
	}
	panic("openapi: rptSchema cannot describe " + t.String())
}
