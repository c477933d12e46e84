// Command kanri runs the Kanri service management platform.
//
//	kanri dev      everything in one process on an embedded engine (SQLite)
//	kanri server   API and workers against a Temporal cluster and PostgreSQL
//	kanri worker   workers only, to scale out
//	kanri migrate  apply the database migrations and exit
//	kanri bench    measure a Kanri: engine, intake, timers, density, list
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/kanri-itsm/kanri/app"
)

const usage = `usage: kanri <command> [flags]

commands:
  dev      run everything in one process: an embedded Temporal server on SQLite,
           the application database on SQLite, the HTTP API and the workers
  server   run the API and workers against a Temporal cluster and PostgreSQL
  worker   run workers only (scale-out)
  migrate  apply the database migrations and exit
  bench    measure a Kanri: kanri bench [engine|intake|timers|density|list|all]
           [--n N] [--concurrency C] [--json] [--url URL --token TOKEN]

Run 'kanri <command> -h' for the flags of a command. Every flag can also be
set in the environment as KANRI_<FLAG> (KANRI_DATA_DIR, KANRI_DATABASE_URL, ...)
and in the configuration file's server section as <flag> with _ for -
(data_dir, database_url, ...). A flag wins over the environment, which wins
over the file. Tracing also honours OTEL_EXPORTER_OTLP_ENDPOINT and
OTEL_EXPORTER_OTLP_PROTOCOL (and their _TRACES_ forms) below KANRI_OTLP_*.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	mode := args[0]
	switch mode {
	case "dev", "server", "worker", "migrate":
	case "bench":
		return runBench(args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "kanri: unknown command %q\n\n%s", mode, usage)
		return 2
	}
	opts, level, err := parseFlags(mode, args[1:], stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "kanri %s: %v\n", mode, err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	opts.Logger, opts.Stdout = logger, stdout
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, opts); err != nil {
		// Plain text, not a log line: a configuration error lists one
		// problem per line, and a person reads it.
		fmt.Fprintf(stderr, "kanri %s: %v\n", mode, err)
		return 1
	}
	return 0
}

func parseFlags(mode string, args []string, stderr io.Writer) (app.Options, slog.Level, error) {
	o := app.Options{Mode: mode}
	var lvl slog.Level
	fs := flag.NewFlagSet("kanri "+mode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.ConfigPath, "config", "", "YAML configuration file (env KANRI_CONFIG); none: built-in demo defaults")
	fs.StringVar(&o.DatabaseURL, "database-url", "", "application database: postgres://... or a SQLite file path")
	fs.StringVar(&o.TaskQueue, "task-queue", "", "Temporal task queue (default kanri)")
	fs.IntVar(&o.DBMaxOpenConns, "db-max-open-conns", 0, "PostgreSQL: open connections per process at most (0: default 32)")
	fs.IntVar(&o.DBMaxIdleConns, "db-max-idle-conns", 0, "PostgreSQL: idle connections kept per process (0: default 8)")
	fs.DurationVar(&o.DBConnMaxLifetime, "db-conn-max-lifetime", 0, "PostgreSQL: close a connection this long after it opened (0: default 30m)")
	fs.DurationVar(&o.DBConnMaxIdleTime, "db-conn-max-idle-time", 0, "PostgreSQL: close a connection idle this long (0: default 5m)")
	var level string
	fs.StringVar(&level, "log-level", "info", "log level: debug, info, warn, error")
	switch mode {
	case "dev":
		fs.StringVar(&o.DataDir, "data-dir", "", "all state; restarting on the same directory resumes every case and timer (default ./.kanri)")
		fs.StringVar(&o.HTTPAddr, "http", "", "API listen address (default 127.0.0.1:8080)")
		fs.IntVar(&o.TemporalPort, "temporal-port", 0, "the embedded Temporal frontend listens on 127.0.0.1:N (default 7233)")
	case "server", "worker":
		if mode == "server" {
			fs.StringVar(&o.HTTPAddr, "http", "", "API listen address (default 127.0.0.1:8080)")
		} else {
			fs.StringVar(&o.HTTPAddr, "http", "", "health and metrics listen address (default 127.0.0.1:8081)")
		}
		fs.StringVar(&o.TemporalAddress, "temporal-address", "", "Temporal frontend host:port (default 127.0.0.1:7233)")
		fs.StringVar(&o.TemporalNamespace, "temporal-namespace", "", "Temporal namespace (default default)")
		fs.BoolVar(&o.TemporalTLS, "temporal-tls", false, "connect to Temporal over TLS")
		fs.StringVar(&o.TemporalCA, "temporal-tls-ca", "", "CA certificate (PEM) to trust for Temporal")
		fs.StringVar(&o.TemporalCert, "temporal-tls-cert", "", "client certificate (PEM) for mTLS")
		fs.StringVar(&o.TemporalKey, "temporal-tls-key", "", "client key (PEM) for mTLS")
		fs.StringVar(&o.TemporalServerName, "temporal-tls-server-name", "", "server name to verify")
		fs.IntVar(&o.WorkflowTasks, "workflow-tasks", 0, "concurrent workflow tasks per worker (0: SDK default)")
		fs.IntVar(&o.Activities, "activities", 0, "concurrent activities per worker (0: SDK default)")
		fs.IntVar(&o.WorkflowCache, "workflow-cache", 0, "workflow executions kept in memory between tasks (0: 256 for dev, the SDK default of 10000 otherwise)")
		fs.IntVar(&o.WorkflowPollers, "workflow-pollers", 0, "long polls per worker for workflow tasks (0: 16)")
	}
	if mode != "migrate" {
		fs.StringVar(&o.OTLPEndpoint, "otlp-endpoint", "", "OpenTelemetry: send traces to this OTLP receiver, e.g. http://otel-collector:4317 (none: no tracing)")
		fs.StringVar(&o.OTLPProtocol, "otlp-protocol", "", "OpenTelemetry: OTLP protocol, grpc or http/protobuf (default grpc)")
	}
	// The environment fills what the command line leaves unset: KANRI_<FLAG>,
	// then OpenTelemetry's own variables for the exporter.
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		env := envName(f.Name)
		if v, ok := os.LookupEnv(env); ok && v != "" {
			if err := f.Value.Set(v); err != nil {
				envErr = errors.Join(envErr, fmt.Errorf("%s=%q: %w", env, v, err))
			}
		}
	})
	if envErr != nil {
		return o, lvl, envErr
	}
	if fs.Lookup("otlp-endpoint") != nil {
		// The traces variable is the URL itself; the general one is a base
		// the traces path is appended to (OpenTelemetry's specification).
		if v := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); o.OTLPEndpoint == "" && v != "" {
			o.OTLPEndpoint, o.OTLPTracesURL = v, true
		}
		o.OTLPEndpoint = cmp.Or(o.OTLPEndpoint, os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT"))
		o.OTLPProtocol = cmp.Or(o.OTLPProtocol, os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"), os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL"))
	}
	if err := fs.Parse(args); err != nil {
		return o, lvl, err
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "otlp-endpoint" {
			o.OTLPTracesURL = false // a base URL, as KANRI_OTLP_ENDPOINT is
		}
	})
	if fs.NArg() > 0 {
		return o, lvl, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return o, lvl, fmt.Errorf("--log-level: %w", err)
	}
	return o, lvl, nil
}

// envName is the environment variable of a flag: KANRI_ and the flag's name
// in capitals with _ for -.
func envName(flag string) string {
	return "KANRI_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}
