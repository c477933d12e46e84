package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/libtnb/sqlite"
	"gopkg.in/yaml.v3"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/kanri-itsm/kanri/app"
	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/store"
)

func TestCommandLine(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("sla:\n  targets:\n    P1: {response: 5h, resolution: 4h}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no command", nil, 2, "usage: kanri"},
		{"unknown command", []string{"deploy"}, 2, `unknown command "deploy"`},
		{"unknown flag", []string{"dev", "--colour"}, 2, "colour"},
		{"stray argument", []string{"migrate", "now"}, 2, `unexpected argument "now"`},
		{"bad log level", []string{"dev", "--log-level", "loud"}, 2, "--log-level"},
		{"missing config file", []string{"dev", "--config", "/no/such/kanri.yaml"}, 1, "/no/such/kanri.yaml"},
		{"invalid config names the key", []string{"dev", "--config", bad, "--data-dir", t.TempDir()}, 1, "sla.targets.P1.response"},
		{"server without a database", []string{"server"}, 1, "--database-url is required"},
		{"help", []string{"dev", "-h"}, 0, "-data-dir"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(c.args, &out, &errb); code != c.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, c.code, errb.String())
			}
			if !strings.Contains(errb.String(), c.stderr) {
				t.Fatalf("stderr does not say %q:\n%s", c.stderr, errb.String())
			}
		})
	}
}

func TestMigrateCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "kanri.db")
	var out, errb bytes.Buffer
	for range 2 { // a second run finds nothing to do
		if code := run([]string{"migrate", "--database-url", db}, &out, &errb); code != 0 {
			t.Fatalf("migrate: exit %d: %s", code, errb.String())
		}
	}
	if !strings.Contains(errb.String(), "migrations applied") {
		t.Fatalf("migrate said: %s", errb.String())
	}
}

// Each production setting is a flag, a KANRI_ variable and a key of the
// configuration file's server section, and the flag wins over the
// environment, which wins over the file, which wins over the default.
func TestSettingPrecedence(t *testing.T) {
	// OpenTelemetry's own variables sit below KANRI_OTLP_*; keep them out.
	for _, v := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
		t.Setenv(v, "")
	}
	for _, c := range []struct {
		flag string
		// Values at each level, as the flag and the environment take them
		// and as YAML writes them; each reads back as itself through get.
		def, file, env, cli string
		get                 func(o app.Options) string
	}{
		{"http", "127.0.0.1:8080", "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", func(o app.Options) string { return o.HTTPAddr }},
		{"database-url", "", "postgres://file/kanri", "postgres://env/kanri", "postgres://flag/kanri", func(o app.Options) string { return o.DatabaseURL }},
		{"task-queue", "kanri", "q-file", "q-env", "q-flag", func(o app.Options) string { return o.TaskQueue }},
		{"temporal-address", "127.0.0.1:7233", "file:7233", "env:7233", "flag:7233", func(o app.Options) string { return o.TemporalAddress }},
		{"temporal-namespace", "default", "ns-file", "ns-env", "ns-flag", func(o app.Options) string { return o.TemporalNamespace }},
		// A boolean has one value beyond its default: each level can only
		// turn it on.
		{"temporal-tls", "false", "true", "true", "true", func(o app.Options) string { return strconv.FormatBool(o.TemporalTLS) }},
		{"temporal-tls-ca", "", "/file/ca.pem", "/env/ca.pem", "/flag/ca.pem", func(o app.Options) string { return o.TemporalCA }},
		{"temporal-tls-cert", "", "/file/cert.pem", "/env/cert.pem", "/flag/cert.pem", func(o app.Options) string { return o.TemporalCert }},
		{"temporal-tls-key", "", "/file/key.pem", "/env/key.pem", "/flag/key.pem", func(o app.Options) string { return o.TemporalKey }},
		{"temporal-tls-server-name", "", "file.example", "env.example", "flag.example", func(o app.Options) string { return o.TemporalServerName }},
		{"workflow-tasks", "0", "11", "12", "13", func(o app.Options) string { return strconv.Itoa(o.WorkflowTasks) }},
		{"activities", "0", "21", "22", "23", func(o app.Options) string { return strconv.Itoa(o.Activities) }},
		{"workflow-cache", "0", "301", "302", "303", func(o app.Options) string { return strconv.Itoa(o.WorkflowCache) }},
		{"workflow-pollers", "16", "4", "5", "6", func(o app.Options) string { return strconv.Itoa(o.WorkflowPollers) }},
		{"db-max-open-conns", "32", "41", "42", "43", func(o app.Options) string { return strconv.Itoa(o.DBMaxOpenConns) }},
		{"db-max-idle-conns", "8", "1", "2", "3", func(o app.Options) string { return strconv.Itoa(o.DBMaxIdleConns) }},
		{"db-conn-max-lifetime", "30m0s", "1h0m0s", "2h0m0s", "3h0m0s", func(o app.Options) string { return o.DBConnMaxLifetime.String() }},
		{"db-conn-max-idle-time", "5m0s", "1m0s", "2m0s", "3m0s", func(o app.Options) string { return o.DBConnMaxIdleTime.String() }},
		{"otlp-endpoint", "", "http://file:4317", "http://env:4317", "http://flag:4317", func(o app.Options) string { return o.OTLPEndpoint }},
		{"otlp-protocol", "grpc", "http/protobuf", "grpc", "http/protobuf", func(o app.Options) string { return o.OTLPProtocol }},
	} {
		t.Run(c.flag, func(t *testing.T) {
			key := strings.ReplaceAll(c.flag, "-", "_")
			env := envName(c.flag)
			settle := func(t *testing.T, args []string, envVal, yamlVal string) string {
				t.Helper()
				t.Setenv(env, envVal)
				cfg := policy.Default()
				if yamlVal != "" {
					var err error
					// Through the strict loader: the key must be one it knows.
					if cfg, err = policy.Parse(withServer(t, key+": "+yamlVal)); err != nil {
						t.Fatalf("server.%s in the file: %v", key, err)
					}
				}
				o, _, err := parseFlags("server", args, io.Discard)
				if err != nil {
					t.Fatalf("parse %v with %s=%q: %v", args, env, envVal, err)
				}
				o.Settle(cfg)
				return c.get(o)
			}
			if got := settle(t, nil, "", ""); got != c.def {
				t.Errorf("default: %q, want %q", got, c.def)
			}
			if got := settle(t, nil, "", c.file); got != c.file {
				t.Errorf("server.%s: %q, want %q", key, got, c.file)
			}
			if got := settle(t, nil, c.env, c.file); got != c.env {
				t.Errorf("%s over the file: %q, want %q", env, got, c.env)
			}
			if got := settle(t, []string{"--" + c.flag + "=" + c.cli}, c.env, c.file); got != c.cli {
				t.Errorf("--%s over %s and the file: %q, want %q", c.flag, env, got, c.cli)
			}
		})
	}
}

// withServer is the built-in configuration as YAML with a server section
// of the given lines.
func withServer(t *testing.T, lines ...string) []byte {
	t.Helper()
	base, err := yaml.Marshal(policy.Default())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(base, &doc); err != nil {
		t.Fatal(err)
	}
	var server map[string]any
	if err := yaml.Unmarshal([]byte(strings.Join(lines, "\n")), &server); err != nil {
		t.Fatal(err)
	}
	doc["server"] = server
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// OpenTelemetry's standard variables turn tracing on too, below Kanri's own
// and above the file; the traces variable is a whole URL, the general one a
// base.
func TestOTLPEnvironment(t *testing.T) {
	cfg, err := policy.Parse(withServer(t, "otlp_endpoint: http://file:4317"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name                   string
		kanri, traces, general string
		want                   string
		tracesURL              bool // the endpoint is used as is, not as a base
	}{
		{"file alone", "", "", "", "http://file:4317", false},
		{"OTEL_EXPORTER_OTLP_ENDPOINT over the file", "", "", "http://otel:4317", "http://otel:4317", false},
		{"the traces variable over the general one, as is", "", "http://traces:4317", "http://otel:4317", "http://traces:4317", true},
		{"KANRI_OTLP_ENDPOINT over both", "http://kanri:4317", "http://traces:4317", "http://otel:4317", "http://kanri:4317", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("KANRI_OTLP_ENDPOINT", c.kanri)
			t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", c.traces)
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", c.general)
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
			o, _, err := parseFlags("worker", nil, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			o.Settle(cfg)
			if o.OTLPEndpoint != c.want || o.OTLPProtocol != "http/protobuf" || o.OTLPTracesURL != c.tracesURL {
				t.Errorf("endpoint %q (traces URL %v) protocol %q, want %q (%v) over http/protobuf",
					o.OTLPEndpoint, o.OTLPTracesURL, o.OTLPProtocol, c.want, c.tracesURL)
			}
		})
	}
	// The flag wins over the traces variable, and is a base URL.
	t.Setenv("KANRI_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4318/api/traces")
	o, _, err := parseFlags("worker", []string{"--otlp-endpoint", "http://flag:4318"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.OTLPEndpoint != "http://flag:4318" || o.OTLPTracesURL {
		t.Errorf("flag over the traces variable: %q (traces URL %v), want the flag's base URL", o.OTLPEndpoint, o.OTLPTracesURL)
	}
}

func TestBadSettings(t *testing.T) {
	t.Setenv("KANRI_DB_MAX_OPEN_CONNS", "many")
	var out, errb bytes.Buffer
	if code := run([]string{"migrate"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "KANRI_DB_MAX_OPEN_CONNS") {
		t.Errorf("a malformed KANRI_ variable: exit %d, stderr %s", code, errb.String())
	}
	t.Setenv("KANRI_DB_MAX_OPEN_CONNS", "")
	errb.Reset()
	db := filepath.Join(t.TempDir(), "kanri.db")
	if code := run([]string{"migrate", "--database-url", db, "--db-max-idle-conns", "-1"}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "--db-max-idle-conns must not be negative") {
		t.Errorf("a negative pool size: exit %d, stderr %s", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"server", "--database-url", db, "--otlp-protocol", "carrier-pigeon"}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "carrier-pigeon") {
		t.Errorf("an unknown OTLP protocol: exit %d, stderr %s", code, errb.String())
	}
}

// TestMain lets a test run this binary as `kanri`: with KANRI_TEST_MAIN=1 the
// test binary is the command, its arguments the command line.
func TestMain(m *testing.M) {
	if os.Getenv("KANRI_TEST_MAIN") == "1" {
		if at, err := strconv.ParseInt(os.Getenv("KANRI_TEST_START_AT"), 10, 64); err == nil {
			time.Sleep(time.Until(time.Unix(0, at)))
		}
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// Replicas start together and each runs `kanri migrate` (the Helm hook
// retried, an init container per pod, compose's one-shot beside a manual
// run): separate processes, released at the same instant, on one fresh
// database. Each must succeed and each migration be applied once.
func TestMigrateConcurrentProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	for _, c := range []struct {
		name string
		url  func(t *testing.T) string
		open func(url string) gorm.Dialector
	}{
		// The SQLite file exists (in WAL mode, without tables) before the
		// processes start: several processes creating one SQLite file at
		// the same instant can meet SQLITE_BUSY while it switches to WAL,
		// which SQLite reports without waiting out busy_timeout. It is the
		// migration lock that is under test here.
		{"sqlite", func(t *testing.T) string {
			path := filepath.Join(t.TempDir(), "kanri.db")
			s, err := store.Open(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return path
		}, func(u string) gorm.Dialector { return sqlite.Open(u) }},
		{"postgres", newPostgresDatabase, func(u string) gorm.Dialector { return postgres.Open(u) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			url := c.url(t)
			const n = 4
			at := time.Now().Add(2 * time.Second)
			cmds := make([]*exec.Cmd, n)
			outs := make([]*bytes.Buffer, n)
			for i := range cmds {
				outs[i] = &bytes.Buffer{}
				// One connection each: the lock and the migrations must not
				// need a second one.
				cmd := exec.Command(os.Args[0], "migrate", "--database-url", url, "--db-max-open-conns", "1")
				cmd.Env = append(os.Environ(), "KANRI_TEST_MAIN=1", fmt.Sprintf("KANRI_TEST_START_AT=%d", at.UnixNano()))
				cmd.Stdout, cmd.Stderr = outs[i], outs[i]
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				cmds[i] = cmd
			}
			for i, cmd := range cmds {
				if err := cmd.Wait(); err != nil {
					t.Errorf("process %d: %v\n%s", i, err, outs[i])
				} else if !strings.Contains(outs[i].String(), "migrations applied") {
					t.Errorf("process %d said:\n%s", i, outs[i])
				}
			}
			if time.Now().Before(at) {
				t.Fatal("the processes ended before the instant they were to start at")
			}

			db, err := gorm.Open(c.open(url), &gorm.Config{Logger: logger.Discard})
			if err != nil {
				t.Fatal(err)
			}
			if d, err := db.DB(); err == nil {
				defer d.Close()
			}
			var got struct{ Rows, Versions, First, Last int }
			if err := db.Raw(`SELECT COUNT(*) AS rows, COUNT(DISTINCT version) AS versions, MIN(version) AS first, MAX(version) AS last
				FROM schema_migrations`).Scan(&got).Error; err != nil {
				t.Fatal(err)
			}
			if got.Rows == 0 || got.Rows != got.Versions || got.First != 1 || got.Last != got.Rows {
				t.Errorf("schema_migrations after %d concurrent runs: %+v, want each of 1..N once", n, got)
			}
		})
	}
}

// newPostgresDatabase creates an empty database on the server of
// KANRI_TEST_POSTGRES_URL and drops it after the test. Without the
// variable the test is skipped, except in CI, where it fails.
func newPostgresDatabase(t *testing.T) string {
	t.Helper()
	admin := os.Getenv("KANRI_TEST_POSTGRES_URL")
	if admin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("KANRI_TEST_POSTGRES_URL is not set: CI must run this against PostgreSQL (.ci/postgres prints the URL)")
		}
		t.Skip("KANRI_TEST_POSTGRES_URL is not set: skipping PostgreSQL (run .ci/postgres and export the URL it prints)")
	}
	u, err := neturl.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "kanri_cmd_" + hex.EncodeToString(b[:])
	adm, err := gorm.Open(postgres.Open(admin), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if err := adm.Exec(`CREATE DATABASE ` + name).Error; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := adm.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`).Error; err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
		if d, err := adm.DB(); err == nil {
			_ = d.Close()
		}
	})
	u.Path = "/" + name
	return u.String()
}
