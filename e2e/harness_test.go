// Package e2e drives a whole Kanri (the embedded Temporal server, the real
// database, the workers and the HTTP API) through HTTP, as users do. Its
// SLA targets are seconds long, so the few real-time waits stay short.
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/kanri-itsm/kanri/app"
	"github.com/kanri-itsm/kanri/policy"
)

const config = `
users:
  - {id: admin, name: Ada Admin, email: admin@example.com, roles: [admin], token: admin-token}
  - {id: alice, name: Alice Agent, email: alice@example.com, roles: [agent], token: alice-token}
  - {id: bob, name: Bob Second, email: bob@example.com, roles: [agent], token: bob-token}
  - {id: carl, name: Carl Third, email: carl@example.com, roles: [agent], token: carl-token}
  - {id: mona, name: Mona Manager, email: mona@example.com, roles: [agent], token: mona-token}
  - {id: tess, name: Tess Top, email: tess@example.com, roles: [process_owner], token: tess-token}
  - {id: rita, name: Rita Requester, email: rita@example.com, token: rita-token}
  - {id: ron, name: Ron Requester, email: ron@example.com, token: ron-token}
  - {id: cab1, name: Cab One, email: cab1@example.com, roles: [agent], token: cab1-token}
  - {id: cab2, name: Cab Two, email: cab2@example.com, roles: [agent], token: cab2-token}
  - {id: ivan, name: Ivan Auditor, email: ivan@example.com, roles: [agent], token: ivan-token}
groups:
  - {id: service-desk, name: Service desk, members: [alice], manager: mona}
  - {id: second-line, name: Second line, members: [bob], manager: mona}
  - {id: third-line, name: Third line, members: [carl], manager: mona}
  - {id: cab, name: CAB, members: [cab1, cab2], manager: tess}
  - {id: ecab, name: ECAB, members: [cab1], manager: tess}
  - {id: managers, name: Managers, members: [mona, cab1], manager: tess}
services:
  - {id: email, name: Corporate email, owner: mona, cis: [mail-app, mail-db]}
  - {id: payroll, name: Payroll, owner: tess, cis: [payroll-app]}
top_management: [tess]
sla:
  targets:
    P1: {response: 2s, resolution: 8s}
    P2: {response: 1h, resolution: 2h}
    P3: {response: 4h, resolution: 3d}
    P4: {response: 8h, resolution: 5d}
  warning: 0.5
escalation:
  functional: [service-desk, second-line, third-line]
auto_close_after: 3s
change_policy:
  standard_changes: [password reset]
  approvers:
    normal: {group: cab, quorum: 2}
    emergency: {group: ecab, quorum: 1}
    major: {group: cab, quorum: 2}
  approval_timeout: 48h
  blackouts:
    - {name: year-end freeze, start: 2030-12-24T00:00:00Z, end: 2031-01-04T00:00:00Z}
release_policy:
  approvers: {group: cab, quorum: 1}
  early_life: 2s
cmdb:
  ci_types: [application, server, database]
  cis:
    - {id: srv-01, type: server, name: Application server, owner: bob, version: rhel-9.4, location: dc1/r12}
    - {id: srv-02, type: server, name: Database server, owner: bob, version: rhel-9.4}
    - {id: mail-db, type: database, name: Mail store, owner: carl, runs_on: [srv-02]}
    - {id: mail-app, type: application, name: Mail server, owner: carl, version: "2.4", runs_on: [srv-01], depends_on: [mail-db]}
    - {id: payroll-app, type: application, name: Payroll, owner: carl, version: "7.1", runs_on: [srv-01]}
improvement:
  effectiveness_after: 3s
suppliers:
  manager: tess
  record_within: 1h
audit_programme:
  processes:
    - {id: incident, owner: tess, groups: [service-desk, second-line]}
  audits:
    - {id: 2026-incident, title: Incident management audit, scope: {processes: [incident]}, criteria: "ISO/IEC 20000-1 8.6", auditor: ivan}
request_catalogue:
  - {id: password-reset, name: Password reset, group: service-desk, response: 1h, resolution: 4h}
  - {id: new-laptop, name: New laptop, group: service-desk, response: 8h, resolution: 5d, approval: {group: managers, quorum: 2}}
`

// kanri is one running Kanri under test.
type kanri struct {
	t       *testing.T
	app     *app.App
	base    string
	opts    app.Options
	dataDir string
}

// databases lists the application databases to run the suite on: SQLite
// always, PostgreSQL when KANRI_TEST_POSTGRES_URL names a server.
func databases(t *testing.T) map[string]func(t *testing.T) string {
	dbs := map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string { return "" },
	}
	admin := os.Getenv("KANRI_TEST_POSTGRES_URL")
	switch {
	case admin != "":
		dbs["postgres"] = func(t *testing.T) string { return freshPostgres(t, admin) }
	case os.Getenv("CI") == "true":
		t.Fatal("KANRI_TEST_POSTGRES_URL is not set: CI runs the end-to-end suite on PostgreSQL too")
	default:
		t.Log("KANRI_TEST_POSTGRES_URL is not set: the PostgreSQL run is left out (.ci/postgres starts a server)")
	}
	return dbs
}

// freshPostgres creates a database of its own for one test and drops it
// afterwards.
func freshPostgres(t *testing.T, admin string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "kanri_e2e_" + hex.EncodeToString(b)
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	t.Cleanup(func() {
		_, _ = db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		db.Close()
	})
	return u.String()
}

// start runs Kanri dev on a fresh data directory (or the one given).
func start(t *testing.T, databaseURL, dataDir string) *kanri {
	t.Helper()
	return startConfig(t, config, databaseURL, dataDir)
}

// startConfig starts Kanri on a configuration of the test's own.
func startConfig(t *testing.T, yaml, databaseURL, dataDir string) *kanri {
	t.Helper()
	cfg, err := policy.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	opts := app.Options{
		Mode: app.ModeDev, Config: cfg, DataDir: dataDir, HTTPAddr: "127.0.0.1:0",
		TemporalPort: app.AnyTemporalPort, DatabaseURL: databaseURL,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := app.Start(ctx, opts)
	if err != nil {
		t.Fatalf("start kanri: %v", err)
	}
	k := &kanri{t: t, app: a, base: "http://" + a.Addr(), opts: opts, dataDir: dataDir}
	t.Cleanup(k.stop)
	return k
}

func (k *kanri) stop() {
	if k.app != nil {
		k.app.Close()
		k.app = nil
	}
}

// restart stops Kanri and starts it again on the same data and database.
func (k *kanri) restart() *kanri {
	k.stop()
	return start(k.t, k.opts.DatabaseURL, k.dataDir)
}

// response is what a request answered.
type response struct {
	Status int
	Type   string
	Body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object (%d): %s", r.Status, r.Body)
	}
	return m
}

func (k *kanri) do(method, path, token string, body any, header ...string) response {
	k.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			k.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, k.base+path, rd)
	if err != nil {
		k.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		k.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{Status: res.StatusCode, Type: res.Header.Get("Content-Type"), Body: b}
}

// must asserts the status and returns the JSON object.
func (k *kanri) must(status int, method, path, token string, body any, header ...string) map[string]any {
	k.t.Helper()
	r := k.do(method, path, token, body, header...)
	if r.Status != status {
		k.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, status, r.Body)
	}
	return r.json(k.t)
}

func (k *kanri) act(kind, id, token string, action map[string]any) response {
	k.t.Helper()
	return k.do("POST", "/api/v1/"+kind+"/"+id+"/actions", token, action)
}

// eventually polls a record until cond holds or the time runs out.
func (k *kanri) eventually(kind, id string, within time.Duration, what string, cond func(map[string]any) bool) map[string]any {
	k.t.Helper()
	deadline := time.Now().Add(within)
	var rec map[string]any
	for time.Now().Before(deadline) {
		rec = k.must(200, "GET", "/api/v1/"+kind+"/"+id, "admin-token", nil)
		if cond(rec) {
			return rec
		}
		time.Sleep(100 * time.Millisecond)
	}
	k.t.Fatalf("%s %s: %s did not happen within %s; record: %v", kind, id, what, within, rec)
	return nil
}

func (k *kanri) history(kind, id string) []map[string]any {
	k.t.Helper()
	h := k.must(200, "GET", "/api/v1/"+kind+"/"+id+"/history", "admin-token", nil)
	var out []map[string]any
	for _, it := range h["items"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

func actions(h []map[string]any) []string {
	var out []string
	for _, e := range h {
		out = append(out, fmt.Sprint(e["action"]))
	}
	return out
}
