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

	"github.com/gin-gonic/gin"

	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/metrics"
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
			"review", "comment", "link", "assign", "investigate", "record_known_error", "raise_rfc", "resolve", "close",
		},
		"changes": {
			"approve", "reject", "review", "close", "comment", "link",
			"assess", "submit", "schedule", "implement", "complete", "back_out",
		},
	}
}

// validatorSource says where each kind's validator is, for the cross-check
// of validatorActions against the code.
func validatorSource() map[string]struct{ file, receiver string } {
	return map[string]struct{ file, receiver string }{
		"incidents": {"incident.go", "incident"},
		"requests":  {"request.go", "request"},
		"changes":   {"change.go", "change"},
		"problems":  {"problem.go", "problem"},
	}
}

func TestOpenAPIActionsMatchWorkflows(t *testing.T) {
	doc := loadDocument(t)
	schemas := at(t, doc, "components", "schemas").(map[string]any)
	for _, k := range cases.Kinds() {
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

// jsonFields lists a struct's JSON member names the way encoding/json does.
func jsonFields(t *testing.T, typ reflect.Type) []string {
	t.Helper()
	var names []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Anonymous {
			t.Fatalf("%v embeds %v; teach jsonFields to flatten it", typ, f.Type)
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
	}
	return names
}

// structsOf lists typ and every named struct it contains, time.Time aside.
func structsOf(typ reflect.Type, seen map[reflect.Type]bool) {
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Array || typ.Kind() == reflect.Map {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct || typ.PkgPath() == "time" || seen[typ] {
		return
	}
	seen[typ] = true
	for i := range typ.NumField() {
		structsOf(typ.Field(i).Type, seen)
	}
}

func TestOpenAPISchemasHaveEveryField(t *testing.T) {
	doc := loadDocument(t)
	schemas := at(t, doc, "components", "schemas").(map[string]any)
	seen := map[reflect.Type]bool{}
	for _, v := range []any{
		workflows.Incident{}, workflows.Request{}, workflows.Change{}, cases.OpenIncident{}, cases.OpenRequest{},
		cases.OpenChange{}, workflows.Problem{}, cases.OpenProblem{}, cases.HistoryItem{},
	} {
		structsOf(reflect.TypeOf(v), seen)
	}
	for typ := range seen {
		props := at(t, schemas, typ.Name(), "properties").(map[string]any)
		want := jsonFields(t, typ)
		missing, extra := difference(slices.Collect(maps.Keys(props)), want)
		if len(missing) > 0 {
			t.Errorf("schema %s lacks %v, members of %v", typ.Name(), missing, typ)
		}
		if len(extra) > 0 {
			t.Errorf("schema %s has %v, which %v lacks", typ.Name(), extra, typ)
		}
	}

	// The action bodies: each kind's schema shows the fields its actions
	// read, and names every field of actionBody as allowed.
	body := jsonFields(t, reflect.TypeFor[actionBody]())
	read := map[string]bool{}
	for _, k := range cases.Kinds() {
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
