package api

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/metrics"
	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/store"
	"github.com/kanri-itsm/kanri/workflows"
)

// loadDocument parses the document as a client would.
func loadDocument(t *testing.T) map[string]any {
	t.Helper()
	// A build error would panic in openAPIDocument; report it instead.
	if _, err := buildOpenAPI(); err != nil {
		t.Fatalf("the document cannot be built: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(openAPIDocument(), &doc); err != nil {
		t.Fatalf("the document is not JSON: %v", err)
	}
	return doc
}

// at walks the document along keys; it fails the test where a key is missing.
func at(t *testing.T, v any, keys ...string) any {
	t.Helper()
	for i, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s is not an object", strings.Join(keys[:i], "."))
		}
		if v, ok = m[k]; !ok {
			t.Fatalf("%s is missing", strings.Join(keys[:i+1], "."))
		}
	}
	return v
}

func TestOpenAPIDocument(t *testing.T) {
	doc := loadDocument(t)
	if got := doc["openapi"]; got != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", got)
	}
	if got := at(t, doc, "info", "title"); got != "Kanri" {
		t.Errorf("info.title = %v", got)
	}
	if got := at(t, doc, "info", "version"); got != "1" {
		t.Errorf("info.version = %v", got)
	}
	scheme := at(t, doc, "components", "securitySchemes", "bearer").(map[string]any)
	if scheme["type"] != "http" || scheme["scheme"] != "bearer" {
		t.Errorf("securitySchemes.bearer = %v", scheme)
	}
	if got, _ := json.Marshal(doc["security"]); string(got) != `[{"bearer":[]}]` {
		t.Errorf("security = %s", got)
	}
	// The same bytes on every call: clients may cache and compare them.
	if a, b := openAPIDocument(), openAPIDocument(); string(a) != string(b) {
		t.Error("two calls built different documents")
	}

	// Served without a token.
	w := httptest.NewRecorder()
	newEngine(t).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/v1/openapi.json", nil))
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" || w.Body.String() != string(openAPIDocument()) {
		t.Errorf("GET /api/v1/openapi.json = %d %q, %d bytes", w.Code, w.Header().Get("Content-Type"), w.Body.Len())
	}
}

// documentedOperations lists "METHOD /path" for every operation.
func documentedOperations(t *testing.T, doc map[string]any) map[string]bool {
	t.Helper()
	ops := map[string]bool{}
	for path, item := range at(t, doc, "paths").(map[string]any) {
		for method := range item.(map[string]any) {
			switch method {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				ops[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	return ops
}

// routedOperations lists "METHOD /path" for every route of the engine, with
// Gin's :id written as OpenAPI's {id}.
func routedOperations(e *gin.Engine) map[string]bool {
	ops := map[string]bool{}
	for _, r := range e.Routes() {
		segs := strings.Split(r.Path, "/")
		for i, s := range segs {
			if strings.HasPrefix(s, ":") || strings.HasPrefix(s, "*") {
				segs[i] = "{" + s[1:] + "}"
			}
		}
		ops[r.Method+" "+strings.Join(segs, "/")] = true
	}
	return ops
}

// compareOperations returns the routes the document lacks and the
// documented operations that no route serves.
func compareOperations(routes, documented map[string]bool) (undocumented, unrouted []string) {
	for op := range routes {
		if !documented[op] {
			undocumented = append(undocumented, op)
		}
	}
	for op := range documented {
		if !routes[op] {
			unrouted = append(unrouted, op)
		}
	}
	slices.Sort(undocumented)
	slices.Sort(unrouted)
	return undocumented, unrouted
}

// newEngine builds the router the way the server does. No request is
// served, so the case service and the directory may be nil; metrics are set
// so that /metrics is routed, as it is in every running process.
func newEngine(t *testing.T) *gin.Engine {
	t.Helper()
	h := New(Options{Metrics: metrics.New(), Cases: &cases.Service{}})
	e, ok := h.(*gin.Engine)
	if !ok {
		t.Fatalf("New returns %T; this test reads the routes of a *gin.Engine", h)
	}
	return e
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadDocument(t)
	routes := routedOperations(newEngine(t))
	documented := documentedOperations(t, doc)
	undocumented, unrouted := compareOperations(routes, documented)
	for _, op := range undocumented {
		t.Errorf("route %s is not in the OpenAPI document (api/openapi.go)", op)
	}
	for _, op := range unrouted {
		t.Errorf("the OpenAPI document has %s, but no route serves it", op)
	}
	if len(routes) == 0 {
		t.Fatal("the engine has no routes")
	}
}

// The comparison above must notice drift in either direction.
func TestOpenAPIRouteComparisonCatchesDrift(t *testing.T) {
	doc := loadDocument(t)
	e := newEngine(t)
	e.GET("/api/v1/incidents/:id/undocumented", func(*gin.Context) {})
	documented := documentedOperations(t, doc)
	documented["DELETE /api/v1/incidents/{id}"] = true
	undocumented, unrouted := compareOperations(routedOperations(e), documented)
	if !slices.Equal(undocumented, []string{"GET /api/v1/incidents/{id}/undocumented"}) {
		t.Errorf("undocumented = %v", undocumented)
	}
	if !slices.Equal(unrouted, []string{"DELETE /api/v1/incidents/{id}"}) {
		t.Errorf("unrouted = %v", unrouted)
	}
}

// validatorActions are the actions each workflow's validate accepts, read
// from workflows/*.go. The workflows package exports no list of them; if it
// ever does (workflows.IncidentActions()), use it here instead.
func validatorActions() map[string][]string {
	return map[string][]string{
		"incidents": {
			"assign", "start", "comment", "pend", "resume", "resolve", "confirm", "reopen",
			"reclassify", "escalate", "declare_major", "review_major", "link",
		},
		"requests": {
			"approve", "reject", "comment", "confirm", "reopen", "cancel",
			"assign", "start", "pend", "resume", "fulfil", "link",
		},
		"problems": {
			"review", "comment", "link", "assign", "investigate", "record_known_error", "raise_rfc", "raise_change",
			"resolve", "close",
		},
		"changes": {
			"approve", "reject", "review", "close", "comment", "link",
			"assess", "submit", "schedule", "implement", "complete", "back_out", "remediate", "investigate",
			"plan_transition", "plan_release",
		},
		"releases": {
			"approve", "reject", "review", "decide", "close", "comment", "link", "build", "test", "deploy", "rollback", "withdraw",
		},
		"complaints": {
			"record", "investigate", "act", "report", "close", "escalate", "link", "accept", "dispute", "comment",
		},
		"corrective-actions": {
			"confirm", "analyse_cause", "evaluate", "no_action", "plan", "record_results", "verify",
			"approve_no_action", "reject_no_action", "comment", "link",
		},
		"suppliers": {
			"trigger_review", "amend_contract", "terminate", "record_dispute", "work_dispute", "close_dispute",
			"comment", "link", "add_subcontractor", "review_recorded",
		},
		"supplier-reviews": {"record", "comment", "link"},
		"audits":           {"start", "record_finding", "report", "reassign_auditor", "comment", "link"},
	}
}

// validatorSource says where each kind's validator is, for the cross-check
// of validatorActions against the code.
func validatorSource() map[string]struct{ file, receiver string } {
	return map[string]struct{ file, receiver string }{
		"incidents":          {"incident.go", "incident"},
		"requests":           {"request.go", "request"},
		"changes":            {"change.go", "change"},
		"problems":           {"problem.go", "problem"},
		"releases":           {"release.go", "release"},
		"corrective-actions": {"corrective.go", "corrective"},
		"complaints":         {"complaint.go", "complaint"},
		"suppliers":          {"supplier.go", "supplier"},
		"supplier-reviews":   {"supplier_review.go", "supplierReview"},
		"audits":             {"audit.go", "audit"},
	}
}

func TestOpenAPIActionsMatchWorkflows(t *testing.T) {
	doc := loadDocument(t)
	schemas := at(t, doc, "components", "schemas").(map[string]any)
	for _, k := range cases.Kinds() {
		if k.ReadOnly {
			continue
		}
		want, ok := validatorActions()[k.Name]
		if !ok {
			t.Errorf("%s: add the actions of its validator to validatorActions", k.Name)
			continue
		}
		ref := at(t, doc, "paths", "/api/v1/"+k.Name+"/{id}/actions", "post", "requestBody", "content", "application/json", "schema", "$ref").(string)
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		var got []string
		for _, v := range at(t, schemas, name, "properties", "action", "enum").([]any) {
			got = append(got, v.(string))
		}
		if !sameSet(got, want) {
			t.Errorf("%s: the document's actions are %v; the validator accepts %v", k.Name, got, want)
		}
	}
}

// TestValidatorActionsAreCurrent reads each validator's first switch on
// a.Action, whose cases are the actions it accepts (any other is "unknown
// action"), so that an action added to a workflow fails this package's
// tests until the document and validatorActions have it.
func TestValidatorActionsAreCurrent(t *testing.T) {
	for _, k := range cases.Kinds() {
		if k.ReadOnly {
			continue // no workflow takes actions on it
		}
		src, ok := validatorSource()[k.Name]
		if !ok {
			t.Errorf("%s: add where its validator is to validatorSource", k.Name)
			continue
		}
		got := switchCases(t, filepath.Join("..", "workflows", src.file), src.receiver)
		if !sameSet(got, validatorActions()[k.Name]) {
			t.Errorf("%s: (*%s).validate accepts %v; validatorActions says %v", k.Name, src.receiver, got, validatorActions()[k.Name])
		}
	}
}

func switchCases(t *testing.T, file, receiver string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "validate" || fn.Recv == nil || len(fn.Recv.List) != 1 {
			continue
		}
		star, ok := fn.Recv.List[0].Type.(*ast.StarExpr)
		if !ok {
			continue
		}
		if id, ok := star.X.(*ast.Ident); !ok || id.Name != receiver {
			continue
		}
		var actions []string
		found := false
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			sw, ok := n.(*ast.SwitchStmt)
			if found || !ok {
				return !found
			}
			sel, ok := sw.Tag.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Action" {
				return true
			}
			found = true
			for _, s := range sw.Body.List {
				for _, e := range s.(*ast.CaseClause).List {
					lit, ok := e.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s: a case of the action switch is not a string literal", file)
					}
					v, _ := strconv.Unquote(lit.Value)
					actions = append(actions, v)
				}
			}
			return false
		})
		if !found {
			t.Fatalf("%s: (*%s).validate has no switch on a.Action; update this test", file, receiver)
		}
		return actions
	}
	t.Fatalf("%s: no method (*%s).validate; update validatorSource", file, receiver)
	return nil
}

// filled returns a value of typ with every settable field set to something
// that is not empty, so that encoding/json renders every member, omitempty
// or not, and every embedded pointer's.
func filled(typ reflect.Type, depth int) reflect.Value {
	v := reflect.New(typ).Elem()
	if depth > 8 {
		return v
	}
	switch typ {
	case reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(time.Date(2025, 4, 1, 9, 0, 0, 0, time.UTC)))
		return v
	case reflect.TypeFor[json.RawMessage]():
		v.SetBytes([]byte(`{}`))
		return v
	}
	switch typ.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1)
	case reflect.Pointer:
		v.Set(filled(typ.Elem(), depth+1).Addr())
	case reflect.Slice:
		sl := reflect.MakeSlice(typ, 1, 1)
		sl.Index(0).Set(filled(typ.Elem(), depth+1))
		v.Set(sl)
	case reflect.Map:
		m := reflect.MakeMap(typ)
		m.SetMapIndex(filled(typ.Key(), depth+1), filled(typ.Elem(), depth+1))
		v.Set(m)
	case reflect.Struct:
		for i := range typ.NumField() {
			if v.Field(i).CanSet() {
				v.Field(i).Set(filled(typ.Field(i).Type, depth+1))
			}
		}
	case reflect.Interface:
		if reflect.TypeFor[string]().AssignableTo(typ) {
			v.Set(reflect.ValueOf("x"))
		}
	}
	return v
}

// memberNames lists the members of the JSON object v renders as.
func memberNames(t *testing.T, v reflect.Value) []string {
	t.Helper()
	b, err := json.Marshal(v.Interface())
	if err != nil {
		t.Fatalf("%v: %v", v.Type(), err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v does not render as an object: %s", v.Type(), b)
	}
	return slices.Sorted(maps.Keys(m))
}

// jsonFields lists a struct's JSON members, asking encoding/json itself:
// the members of a value with every field set.
func jsonFields(t *testing.T, typ reflect.Type) []string {
	t.Helper()
	return memberNames(t, filled(typ, 0))
}

// alwaysPresent lists the members encoding/json renders even for the zero
// value: those a reader can count on.
func alwaysPresent(t *testing.T, typ reflect.Type) []string {
	t.Helper()
	return memberNames(t, reflect.New(typ).Elem())
}

// structsOf adds typ and every named struct it contains, time.Time aside.
// An embedded struct without a JSON name is not a schema of its own: its
// members are the embedding struct's, so only what they contain is added.
func structsOf(typ reflect.Type, seen map[reflect.Type]bool) {
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Array || typ.Kind() == reflect.Map {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct || typ.PkgPath() == "time" || seen[typ] {
		return
	}
	seen[typ] = true
	var members func(typ reflect.Type)
	members = func(typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
				members(ft)
				continue
			}
			if f.IsExported() && name != "-" {
				structsOf(f.Type, seen)
			}
		}
	}
	members(typ)
}

// documentedTypes are the Go types whose JSON the API reads or writes:
// every record, request body and answer.
func documentedTypes() []any {
	return []any{
		workflows.Incident{}, workflows.Request{}, workflows.Change{}, workflows.Problem{}, workflows.Release{}, workflows.Corrective{}, cases.OpenCorrective{}, workflows.Complaint{}, cases.OpenComplaint{},
		cases.OpenIncident{}, cases.OpenRequest{}, cases.OpenChange{}, cases.OpenProblem{}, cases.OpenRelease{},
		cases.HistoryItem{}, cases.Evidence{}, cases.ScheduleItem{}, cases.CIRecord{}, cases.WriteCI{},
		cases.TakeBaseline{}, cases.ProblemTrend{}, policy.Blackout{},
		activities.ServiceReportRecord{},
		workflows.Supplier{}, cases.OpenSupplier{}, workflows.SupplierReview{}, cases.OpenSupplierReview{}, workflows.Audit{}, cases.OpenAudit{},
		store.CI{}, store.Baseline{}, store.Impact{}, store.KnownError{},
	}
}

// handWritten are the component schemas that no Go type describes: the
// lists and the schedule (gin.H), the problem document and the action
// bodies.
func handWritten(name string) bool {
	return strings.HasSuffix(name, "List") || strings.HasSuffix(name, "Action") ||
		name == "ChangeSchedule" || name == "ProblemDetails"
}

func TestOpenAPISchemasHaveEveryField(t *testing.T) {
	doc := loadDocument(t)
	schemas := at(t, doc, "components", "schemas").(map[string]any)
	seen := map[reflect.Type]bool{}
	for _, v := range documentedTypes() {
		structsOf(reflect.TypeOf(v), seen)
	}
	checked := map[string]bool{}
	for typ := range seen {
		name := schemaName(typ)
		checked[name] = true
		sch := at(t, schemas, name).(map[string]any)
		props := at(t, sch, "properties").(map[string]any)
		want := jsonFields(t, typ)
		missing, extra := difference(slices.Collect(maps.Keys(props)), want)
		if len(missing) > 0 {
			t.Errorf("schema %s lacks %v, members of %v", name, missing, typ)
		}
		if len(extra) > 0 {
			t.Errorf("schema %s has %v, which %v lacks", name, extra, typ)
		}
		if sch["additionalProperties"] == false {
			continue // a request body: required says what a client must send
		}
		// What the server writes: required is what is always there.
		var required []string
		for _, r := range sch["required"].([]any) {
			required = append(required, r.(string))
		}
		var present []string
		for _, m := range alwaysPresent(t, typ) {
			if !sometimesAbsent()[name+"."+m] {
				present = append(present, m)
			}
		}
		if !sameSet(required, present) {
			t.Errorf("schema %s requires %v; %v always renders %v", name, required, typ, present)
		}
	}
	for name := range schemas {
		if !checked[name] && !handWritten(name) {
			t.Errorf("schema %s describes a Go type that documentedTypes does not reach; add it there", name)
		}
	}
	for key := range sometimesAbsent() {
		typ, member, _ := strings.Cut(key, ".")
		if _, ok := at(t, schemas, typ, "properties").(map[string]any)[member]; !ok {
			t.Errorf("sometimesAbsent has %s, which is not documented", key)
		}
	}

	// The action bodies: each kind's schema shows the fields its actions
	// read, and names every field of actionBody as allowed.
	body := jsonFields(t, reflect.TypeFor[actionBody]())
	read := map[string]bool{}
	for _, k := range cases.Kinds() {
		if k.ReadOnly {
			if _, ok := doc["paths"].(map[string]any)["/api/v1/"+k.Name+"/{id}/actions"]; ok {
				t.Errorf("%s is read-only, yet the document has its actions", k.Name)
			}
			continue
		}
		ref := at(t, doc, "paths", "/api/v1/"+k.Name+"/{id}/actions", "post", "requestBody", "content", "application/json", "schema", "$ref").(string)
		sch := at(t, schemas, strings.TrimPrefix(ref, "#/components/schemas/"))
		var allowed []string
		for _, v := range at(t, sch, "propertyNames", "enum").([]any) {
			allowed = append(allowed, v.(string))
		}
		if !sameSet(allowed, body) {
			t.Errorf("%s: the action body allows %v; actionBody has %v", k.Name, allowed, body)
		}
		for name := range at(t, sch, "properties").(map[string]any) {
			if !slices.Contains(body, name) {
				t.Errorf("%s: the action body documents %q, which actionBody lacks", k.Name, name)
			}
			read[name] = true
		}
	}
	for _, name := range body {
		if !read[name] {
			t.Errorf("actionBody has %q, but no kind's action reads it", name)
		}
	}
}

// Types that exercise encoding/json's rules for embedded structs.
type (
	embedInner struct {
		A string `json:"a"`
		B string `json:"b"`
		C string
		d string
	}
	EmbedExported struct {
		A string `json:"a"` // the same depth as embedInner.A: neither is rendered
		E string `json:"e,omitempty"`
		F string `json:"f"` // absent when the pointer is nil
	}
	EmbedTagged struct {
		G string `json:"g"`
	}
	embedOuter struct {
		embedInner
		*EmbedExported
		EmbedTagged `json:"tagged"` // a member of its own
		B           string          `json:"b"` // shadows embedInner.B
		H           int             `json:"-"`
		I           string          `json:"i,omitzero"`
	}
)

// The schemas' members are those encoding/json renders, and required are
// those it always renders, embedding included.
func TestSchemaFieldsFollowEncodingJSON(t *testing.T) {
	_ = embedInner{d: ""}
	for _, typ := range []reflect.Type{reflect.TypeFor[embedOuter](), reflect.TypeFor[cases.WriteCI](), reflect.TypeFor[cases.CIRecord](), reflect.TypeFor[cases.ScheduleItem]()} {
		s := &schemaSet{defs: obj{}, types: map[string]reflect.Type{}, notes: map[string]obj{}, used: map[string]bool{}}
		var names, required []string
		for _, f := range s.fields(typ, typ.Name()) {
			names = append(names, f.name)
			if !f.optional {
				required = append(required, f.name)
			}
		}
		if s.err != nil {
			t.Errorf("%v: %v", typ, s.err)
		}
		if want := jsonFields(t, typ); !sameSet(names, want) {
			t.Errorf("%v: fields are %v; encoding/json renders %v", typ, names, want)
		}
		if want := alwaysPresent(t, typ); !sameSet(required, want) {
			t.Errorf("%v: the fields always present are %v; encoding/json always renders %v", typ, required, want)
		}
	}
}

func TestOpenAPIListFilters(t *testing.T) {
	doc := loadDocument(t)
	for _, k := range cases.Kinds() {
		var got []string
		for _, p := range at(t, doc, "paths", "/api/v1/"+k.Name, "get", "parameters").([]any) {
			p := p.(map[string]any)
			if p["in"] != "query" {
				t.Errorf("%s: parameter %v is not in the query", k.Name, p["name"])
			}
			got = append(got, p["name"].(string))
		}
		if want := listFilters(k); !sameSet(got, want) {
			t.Errorf("%s: the document's filters are %v; the handler takes %v", k.Name, got, want)
		}
	}
}

// apiFuncs parses this package's code, tests aside: its functions by name,
// methods as server.name, each with the file it is in.
func apiFuncs(t *testing.T) map[string]*ast.FuncDecl {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	funcs := map[string]*ast.FuncDecl{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			key := fn.Name.Name
			if fn.Recv != nil && len(fn.Recv.List) == 1 {
				if star, ok := fn.Recv.List[0].Type.(*ast.StarExpr); ok {
					if id, ok := star.X.(*ast.Ident); ok {
						key = id.Name + "." + key
					}
				}
			}
			funcs[key] = fn
		}
	}
	return funcs
}

// handlerFacts is what a handler's code says about its operation.
type handlerFacts struct {
	query    []string        // onlyQuery's parameters
	decodes  []string        // the types of the bodies it decodes
	statuses map[int]bool    // the statuses it names
	media    map[string]bool // the content types it answers with
	idemKey  bool            // it reads the Idempotency-Key header
}

var statusCodes = map[string]int{
	"StatusOK": 200, "StatusCreated": 201, "StatusNoContent": 204, "StatusBadRequest": 400, "StatusUnauthorized": 401,
	"StatusForbidden": 403, "StatusNotFound": 404, "StatusConflict": 409, "StatusUnprocessableEntity": 422,
	"StatusInternalServerError": 500, "StatusServiceUnavailable": 503,
}

// handlerFactsOf reads a handler, following the calls to the helpers of
// configuration.go (s.fail, which maps every error, is not followed: its
// statuses are the operation's documented errors).
func handlerFactsOf(t *testing.T, funcs map[string]*ast.FuncDecl, body ast.Node) handlerFacts {
	t.Helper()
	h := handlerFacts{statuses: map[int]bool{}, media: map[string]bool{}}
	visited := map[string]bool{}
	var read func(n ast.Node)
	read = func(n ast.Node) {
		varTypes := map[string]string{} // var name -> type name
		ast.Inspect(n, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ValueSpec:
				if sel, ok := n.Type.(*ast.SelectorExpr); ok {
					for _, name := range n.Names {
						varTypes[name.Name] = sel.Sel.Name
					}
				}
			case *ast.SelectorExpr:
				if x, ok := n.X.(*ast.Ident); ok && x.Name == "http" && strings.HasPrefix(n.Sel.Name, "Status") {
					code, ok := statusCodes[n.Sel.Name]
					if !ok {
						t.Errorf("teach statusCodes http.%s", n.Sel.Name)
					}
					h.statuses[code] = true
				}
			case *ast.CallExpr:
				var callee string
				switch fun := n.Fun.(type) {
				case *ast.Ident:
					callee = fun.Name
				case *ast.SelectorExpr:
					x, _ := fun.X.(*ast.Ident)
					switch {
					case x == nil:
					case x.Name == "s":
						callee = "server." + fun.Sel.Name
					case x.Name == "c" && fun.Sel.Name == "JSON":
						h.media["application/json"] = true
					case x.Name == "c" && fun.Sel.Name == "Data" && len(n.Args) == 3:
						if lit, ok := n.Args[1].(*ast.BasicLit); ok {
							v, _ := strconv.Unquote(lit.Value)
							h.media[strings.TrimSpace(strings.Split(v, ";")[0])] = true
						}
					case x.Name == "c" && fun.Sel.Name == "GetHeader" && len(n.Args) == 1:
						if lit, ok := n.Args[0].(*ast.BasicLit); ok && lit.Value == `"Idempotency-Key"` {
							h.idemKey = true
						}
					}
				}
				switch callee {
				case "onlyQuery":
					for _, a := range n.Args[1:] {
						lit, ok := a.(*ast.BasicLit)
						if !ok || lit.Kind != token.STRING {
							t.Fatalf("an argument of onlyQuery is not a string literal")
						}
						v, _ := strconv.Unquote(lit.Value)
						h.query = append(h.query, v)
					}
					h.statuses[http.StatusUnprocessableEntity] = true
				case "queryLimit":
					h.statuses[http.StatusUnprocessableEntity] = true
				case "server.decode":
					if u, ok := n.Args[1].(*ast.UnaryExpr); ok {
						if id, ok := u.X.(*ast.Ident); ok && varTypes[id.Name] != "" {
							h.decodes = append(h.decodes, varTypes[id.Name])
						}
					}
					h.statuses[http.StatusUnprocessableEntity] = true
				case "server.fail", "problem":
				default:
					if fn, ok := funcs[callee]; ok && !visited[callee] && fn.Body != nil {
						visited[callee] = true
						read(fn.Body)
					}
				}
			}
			return true
		})
	}
	read(body)
	return h
}

// operation returns the documented operation of a route.
func operation(t *testing.T, doc map[string]any, method, ginPath string) map[string]any {
	t.Helper()
	segs := strings.Split(ginPath, "/")
	for i, seg := range segs {
		if strings.HasPrefix(seg, ":") {
			segs[i] = "{" + seg[1:] + "}"
		}
	}
	return at(t, doc, "paths", strings.Join(segs, "/"), strings.ToLower(method)).(map[string]any)
}

// bodySchema returns the name of the schema of an operation's JSON body,
// and whether it has one.
func bodySchema(t *testing.T, op map[string]any) (string, bool) {
	t.Helper()
	if _, ok := op["requestBody"]; !ok {
		return "", false
	}
	sch := at(t, op, "requestBody", "content", "application/json", "schema").(map[string]any)
	if all, ok := sch["allOf"].([]any); ok {
		sch = all[0].(map[string]any)
	}
	ref, _ := sch["$ref"].(string)
	return strings.TrimPrefix(ref, "#/components/schemas/"), true
}

// TestOpenAPIConfigurationRoutes reads each handler that configurationRoutes
// registers: its query parameters (onlyQuery), the type of its body, the
// statuses it answers with itself and its content types must be in the
// document.
func TestOpenAPIConfigurationRoutes(t *testing.T) {
	doc := loadDocument(t)
	funcs := apiFuncs(t)
	routes := funcs["server.configurationRoutes"]
	if routes == nil {
		t.Fatal("no (*server).configurationRoutes; update this test")
	}
	n := 0
	ast.Inspect(routes.Body, func(node ast.Node) bool {
		call, ok := node.(*ast.CallExpr)
		if !ok || len(call.Args) != 2 {
			return true
		}
		fun, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || !slices.Contains([]string{"GET", "POST", "PUT", "PATCH", "DELETE"}, fun.Sel.Name) {
			return true
		}
		lit, ok1 := call.Args[0].(*ast.BasicLit)
		handler, ok2 := call.Args[1].(*ast.SelectorExpr)
		if !ok1 || !ok2 {
			t.Errorf("a route of configurationRoutes is not (\"/path\", s.handler); update this test")
			return true
		}
		n++
		path, _ := strconv.Unquote(lit.Value)
		method := fun.Sel.Name
		where := method + " /api/v1" + path
		fn := funcs["server."+handler.Sel.Name]
		if fn == nil {
			t.Errorf("%s: no handler (*server).%s", where, handler.Sel.Name)
			return true
		}
		op := operation(t, doc, method, "/api/v1"+path)
		facts := handlerFactsOf(t, funcs, fn.Body)

		var query []string
		params, _ := op["parameters"].([]any)
		for _, p := range params {
			if p := p.(map[string]any); p["in"] == "query" {
				query = append(query, p["name"].(string))
			}
		}
		if !sameSet(query, facts.query) {
			t.Errorf("%s: the document's query parameters are %v; the handler takes %v", where, query, facts.query)
		}

		name, hasBody := bodySchema(t, op)
		switch {
		case len(facts.decodes) > 1:
			t.Errorf("%s: the handler decodes %v; update this test", where, facts.decodes)
		case len(facts.decodes) == 1 && name != facts.decodes[0]:
			t.Errorf("%s: the document's body is %q; the handler decodes %s", where, name, facts.decodes[0])
		case len(facts.decodes) == 0 && hasBody:
			t.Errorf("%s: the document has a body; the handler reads none", where)
		}

		responses := at(t, op, "responses").(map[string]any)
		for code := range facts.statuses {
			if _, ok := responses[strconv.Itoa(code)]; !ok {
				t.Errorf("%s: the handler answers %d, which the document lacks", where, code)
			}
		}
		media := map[string]bool{}
		for code, r := range responses {
			c, _ := strconv.Atoi(code)
			if c < 200 || c > 299 {
				continue
			}
			if !facts.statuses[c] {
				t.Errorf("%s: the document has %d; the handler answers %v", where, c, slices.Sorted(maps.Keys(facts.statuses)))
			}
			for m := range at(t, r, "content").(map[string]any) {
				media[m] = true
			}
		}
		if !maps.Equal(media, facts.media) {
			t.Errorf("%s: the document answers with %v; the handler with %v", where, slices.Sorted(maps.Keys(media)), slices.Sorted(maps.Keys(facts.media)))
		}
		return true
	})
	if n == 0 {
		t.Fatal("configurationRoutes registers no routes; update this test")
	}
}

// TestOpenAPICreateBodies reads the switch of (*server).create: the body
// each kind decodes is the one kindDocs and the document name, and the
// document shows the Idempotency-Key where the handler reads it.
func TestOpenAPICreateBodies(t *testing.T) {
	doc := loadDocument(t)
	funcs := apiFuncs(t)
	create := funcs["server.create"]
	if create == nil {
		t.Fatal("no (*server).create; update this test")
	}
	found := map[string]bool{}
	ast.Inspect(create.Body, func(n ast.Node) bool {
		sw, ok := n.(*ast.SwitchStmt)
		if !ok {
			return true
		}
		if sel, ok := sw.Tag.(*ast.SelectorExpr); !ok || sel.Sel.Name != "Name" {
			return true
		}
		for _, st := range sw.Body.List {
			clause := st.(*ast.CaseClause)
			facts := handlerFactsOf(t, nil, &ast.BlockStmt{List: clause.Body})
			for _, e := range clause.List {
				lit, ok := e.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatal("a case of create's switch is not a string literal")
				}
				kind, _ := strconv.Unquote(lit.Value)
				found[kind] = true
				d, ok := kindDocs()[kind]
				if !ok {
					t.Errorf("create takes %s, which kindDocs lacks", kind)
					continue
				}
				if len(facts.decodes) != 1 || facts.decodes[0] != d.open.Name() {
					t.Errorf("%s: create decodes %v; kindDocs says %v", kind, facts.decodes, d.open)
				}
				op := at(t, doc, "paths", "/api/v1/"+kind, "post").(map[string]any)
				if name, _ := bodySchema(t, op); name != schemaName(d.open) {
					t.Errorf("POST /api/v1/%s: the document's body is %q; the handler decodes %v", kind, name, d.open)
				}
				documented := false
				params, _ := op["parameters"].([]any)
				for _, p := range params {
					documented = documented || p.(map[string]any)["name"] == "Idempotency-Key"
				}
				if documented != facts.idemKey {
					t.Errorf("POST /api/v1/%s: the document has the Idempotency-Key: %v; the handler reads it: %v", kind, documented, facts.idemKey)
				}
			}
		}
		return false
	})
	for _, k := range cases.Kinds() {
		if !found[k.Name] && !k.ReadOnly {
			t.Errorf("create has no case for %s; update this test", k.Name)
		}
	}
}

// Every $ref points at something, every path parameter is declared, and
// operation ids are unique.
func TestOpenAPIIsConsistent(t *testing.T) {
	doc := loadDocument(t)
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				target := any(doc)
				for _, key := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, _ := target.(map[string]any)
					target = m[key]
				}
				if !strings.HasPrefix(ref, "#/") || target == nil {
					t.Errorf("%s: $ref %s points nowhere", where, ref)
				}
			}
			for k, x := range v {
				walk(where+"/"+k, x)
			}
		case []any:
			for i, x := range v {
				walk(where+"/"+strconv.Itoa(i), x)
			}
		}
	}
	walk("#", doc)

	ids := map[string]string{}
	for path, item := range at(t, doc, "paths").(map[string]any) {
		item := item.(map[string]any)
		for method, op := range item {
			if method == "parameters" {
				continue
			}
			op := op.(map[string]any)
			id, _ := op["operationId"].(string)
			if prev, dup := ids[id]; id == "" || dup {
				t.Errorf("%s %s: operationId %q is empty or also on %s", method, path, id, prev)
			}
			ids[id] = method + " " + path
			declared := map[string]bool{}
			for _, list := range []any{item["parameters"], op["parameters"]} {
				ps, _ := list.([]any)
				for _, p := range ps {
					p := p.(map[string]any)
					if p["in"] == "path" {
						declared[p["name"].(string)] = p["required"] == true
					}
				}
			}
			for _, seg := range strings.Split(path, "/") {
				if name, ok := strings.CutPrefix(seg, "{"); ok {
					if name = strings.TrimSuffix(name, "}"); !declared[name] {
						t.Errorf("%s %s: path parameter %s is not declared as required", method, path, name)
					}
				}
			}
			responses := op["responses"].(map[string]any)
			if len(responses) == 0 {
				t.Errorf("%s %s has no responses", method, path)
			}
			_, public := op["security"]
			if strings.HasPrefix(path, "/api/v1/") && path != "/api/v1/openapi.json" {
				if public {
					t.Errorf("%s %s needs a token, but overrides security", method, path)
				}
				if _, ok := responses["401"]; !ok {
					t.Errorf("%s %s needs a token, but documents no 401", method, path)
				}
			} else if !public {
				t.Errorf("%s %s needs no token, but inherits the bearer requirement", method, path)
			}
			for code := range responses {
				if n, err := strconv.Atoi(code); err != nil || http.StatusText(n) == "" {
					t.Errorf("%s %s: response %q is not a status code", method, path, code)
				}
			}
		}
	}
}

// difference returns what want has and got lacks, and the other way round.
func difference(got, want []string) (missing, extra []string) {
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	return missing, extra
}

func sameSet(a, b []string) bool {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(a, b)
}
