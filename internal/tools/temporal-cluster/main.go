// Command temporal-cluster runs a standalone Temporal server on PostgreSQL
// for Kanri's continuous integration, where no Docker is available.
//
// It exists so that `kanri server` and `kanri worker` can be tested as
// separate processes against a real cluster rather than the embedded
// SQLite engine of `kanri dev`: .ci/cluster builds it from the
// go.temporal.io/server version that go.mod pins (so the cluster and the
// embedded engine are the same Temporal), prepares the databases and runs
// it in the background on loopback. The Temporal CLI's server cannot be
// built inside this module (it needs modules Kanri does not require), so
// this program assembles the server from the same public packages:
//
//	temporal-cluster schema   create the persistence and visibility databases
//	                          when missing and bring both schemas to this
//	                          server's version, with the server's own schema
//	                          files and SQL admin connection (what
//	                          temporal-sql-tool setup-schema/update-schema do)
//	temporal-cluster serve    run frontend, history, matching and worker in
//	                          this process until SIGINT or SIGTERM, and
//	                          register the namespaces once the frontend answers
//	temporal-cluster wait     exit 0 once the frontend answers and knows the
//	                          namespaces, 1 when -timeout passes first
//
// It is a test fixture, not a way to run Temporal in production: use the
// Temporal Helm chart or Temporal Cloud there (deploy/).
package main

import (
	"bytes"
	"context"
	"crypto/md5" // #nosec: the manifest checksum temporal-sql-tool records, not security
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership/static"
	"go.temporal.io/server/common/metrics"
	"go.temporal.io/server/common/persistence"
	"go.temporal.io/server/common/persistence/sql"
	"go.temporal.io/server/common/persistence/sql/sqlplugin"
	"go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/common/primitives/timestamp"
	"go.temporal.io/server/common/resolver"
	dbschemas "go.temporal.io/server/schema"
	pgschema "go.temporal.io/server/schema/postgresql/v12"
	"go.temporal.io/server/temporal"
)

const usage = `usage: temporal-cluster <schema|serve|wait> [flags]

A standalone Temporal server on PostgreSQL for Kanri's CI (see the package
comment). Run 'temporal-cluster <command> -h' for the flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "schema":
		o := parseFlags(cmd, args)
		err = setupSchemas(o)
	case "serve":
		o := parseFlags(cmd, args)
		err = serve(o)
	case "wait":
		o := parseFlags(cmd, args)
		err = waitReady(o)
	case "-h", "--help", "help":
		fmt.Fprint(os.Stdout, usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "temporal-cluster: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "temporal-cluster %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// options are the flags every command takes.
type options struct {
	pgAddr       string
	pgUser       string
	pgPassword   string
	adminDB      string
	db           string
	visibilityDB string
	frontend     string
	host         string
	port         int
	shards       int
	namespaces   []string
	logLevel     string
	timeout      time.Duration
}

func parseFlags(cmd string, args []string) options {
	var o options
	var namespaces string
	fs := flag.NewFlagSet("temporal-cluster "+cmd, flag.ExitOnError)
	fs.StringVar(&o.pgAddr, "postgres", "127.0.0.1:55432", "PostgreSQL host:port")
	fs.StringVar(&o.pgUser, "postgres-user", "postgres", "PostgreSQL user (it creates the databases)")
	fs.StringVar(&o.adminDB, "postgres-admin-db", "postgres", "database to connect to while creating the others")
	fs.StringVar(&o.db, "db", "temporal", "persistence database")
	fs.StringVar(&o.visibilityDB, "visibility-db", "temporal_visibility", "visibility database")
	fs.StringVar(&o.frontend, "frontend", "127.0.0.1:17233", "frontend gRPC host:port; the other services take the next 8 ports")
	fs.IntVar(&o.shards, "shards", 4, "history shards (fixed once the database holds a cluster)")
	fs.StringVar(&namespaces, "namespaces", "default", "comma-separated namespaces to register")
	fs.StringVar(&o.logLevel, "log-level", "warn", "server log level: debug, info, warn, error")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Minute, "wait: how long to wait for the frontend")
	_ = fs.Parse(args)
	// The password comes from the environment only, never the command line.
	o.pgPassword = os.Getenv("TEMPORAL_CLUSTER_POSTGRES_PASSWORD")
	host, port, err := net.SplitHostPort(o.frontend)
	if err == nil {
		o.host = host
		o.port, err = strconv.Atoi(port)
	}
	if err != nil || o.port <= 0 || o.port+8 > 65535 {
		fmt.Fprintf(os.Stderr, "temporal-cluster: -frontend %q is not host:port with room for 8 more ports\n", o.frontend)
		os.Exit(2)
	}
	for _, ns := range strings.Split(namespaces, ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			o.namespaces = append(o.namespaces, ns)
		}
	}
	return o
}

// sqlConfig is the server's connection to one of the databases.
func (o options) sqlConfig(db string, maxConns int) *config.SQL {
	return &config.SQL{
		PluginName:      postgresql.PluginNamePGX,
		DatabaseName:    db,
		ConnectAddr:     o.pgAddr,
		ConnectProtocol: "tcp",
		User:            o.pgUser,
		Password:        o.pgPassword,
		MaxConns:        maxConns,
		MaxIdleConns:    maxConns,
		MaxConnLifetime: time.Hour,
	}
}

func (o options) logger() log.Logger {
	return log.NewZapLogger(log.BuildZapLogger(log.Config{Stdout: true, Level: o.logLevel, Format: "json"}))
}

// setupSchemas creates both databases when missing and brings each schema
// up to the version this server build expects. Running it again on an
// up-to-date database changes nothing.
func setupSchemas(o options) error {
	logger := o.logger()
	for _, s := range []struct {
		db, dir, version string
	}{
		{o.db, "postgresql/v12/temporal", pgschema.Version},
		{o.visibilityDB, "postgresql/v12/visibility", pgschema.VisibilityVersion},
	} {
		if err := createDatabase(o, s.db, logger); err != nil {
			return err
		}
		from, to, err := updateSchema(o.sqlConfig(s.db, 2), s.dir, s.version, logger)
		if err != nil {
			return fmt.Errorf("schema of %s: %w", s.db, err)
		}
		if from == to {
			fmt.Fprintf(os.Stderr, "temporal-cluster: database %s is at schema %s\n", s.db, to)
		} else {
			fmt.Fprintf(os.Stderr, "temporal-cluster: database %s: schema %s -> %s\n", s.db, from, to)
		}
	}
	return nil
}

func adminDB(cfg *config.SQL, logger log.Logger) (sqlplugin.AdminDB, error) {
	return sql.NewSQLAdminDB(sqlplugin.DbKindUnknown, cfg, resolver.NewNoopResolver(), logger, metrics.NoopMetricsHandler)
}

func createDatabase(o options, name string, logger log.Logger) error {
	db, err := adminDB(o.sqlConfig(o.adminDB, 1), logger)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL at %s: %w", o.pgAddr, err)
	}
	defer db.Close()
	if err := db.CreateDatabase(name); err != nil && !strings.Contains(err.Error(), "already exists") {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// manifest is a versioned schema directory's manifest.json.
type manifest struct {
	CurrVersion          string
	MinCompatibleVersion string
	Description          string
	SchemaUpdateCqlFiles []string
	AllowNoCqlFiles      bool
}

// updateSchema applies the versioned schema changes under dir (in the
// server's embedded schema files) that are newer than the database's
// version, up to target, recording each step as temporal-sql-tool does:
// a fresh database starts at 0.0 (setup-schema -v 0.0) and walks every
// version (update-schema -d versioned).
func updateSchema(cfg *config.SQL, dir, target string, logger log.Logger) (from, to string, err error) {
	db, err := adminDB(cfg, logger)
	if err != nil {
		return "", "", fmt.Errorf("connect: %w", err)
	}
	defer db.Close()
	if err := db.CreateSchemaVersionTables(); err != nil {
		return "", "", fmt.Errorf("create the schema version tables: %w", err)
	}
	current, err := db.ReadSchemaVersion(cfg.DatabaseName)
	if err != nil || current == "" {
		// No version recorded: a new database.
		current = "0.0"
		if err := db.UpdateSchemaVersion(cfg.DatabaseName, current, current); err != nil {
			return "", "", fmt.Errorf("record the initial version: %w", err)
		}
		if err := db.WriteSchemaUpdateLog("0", current, "", "initial version"); err != nil {
			return "", "", fmt.Errorf("record the initial version: %w", err)
		}
	}
	from = current
	if compareVersions(current, target) > 0 {
		return from, current, fmt.Errorf("the database is at schema %s, newer than this server's %s", current, target)
	}
	assets := dbschemas.Assets()
	versioned := path.Join(dir, "versioned")
	entries, err := fs.ReadDir(assets, versioned)
	if err != nil {
		return from, current, err
	}
	var versions []string
	for _, e := range entries {
		if v, ok := strings.CutPrefix(e.Name(), "v"); ok && e.IsDir() {
			if compareVersions(v, current) > 0 && compareVersions(v, target) <= 0 {
				versions = append(versions, v)
			}
		}
	}
	slices.SortFunc(versions, compareVersions)
	for _, v := range versions {
		vdir := path.Join(versioned, "v"+v)
		raw, err := fs.ReadFile(assets, path.Join(vdir, "manifest.json"))
		if err != nil {
			return from, current, err
		}
		var m manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			return from, current, fmt.Errorf("%s/manifest.json: %w", vdir, err)
		}
		if compareVersions(m.CurrVersion, v) != 0 {
			return from, current, fmt.Errorf("%s/manifest.json names version %s", vdir, m.CurrVersion)
		}
		var readers []io.Reader
		for _, f := range m.SchemaUpdateCqlFiles {
			b, err := fs.ReadFile(assets, path.Join(vdir, f))
			if err != nil {
				return from, current, err
			}
			readers = append(readers, bytes.NewReader(b))
		}
		stmts, err := persistence.LoadAndSplitQueryFromReaders(readers)
		if err != nil {
			return from, current, fmt.Errorf("%s: %w", vdir, err)
		}
		if len(stmts) == 0 && !m.AllowNoCqlFiles {
			return from, current, fmt.Errorf("%s holds no statements", vdir)
		}
		for _, stmt := range stmts {
			if err := db.Exec(stmt); err != nil {
				// As temporal-sql-tool does: a step that failed half-way
				// is taken up again, skipping what it had done.
				msg := err.Error()
				if strings.Contains(msg, "already exist") || strings.Contains(msg, "not found") {
					continue
				}
				return from, current, fmt.Errorf("version %s: %w", v, err)
			}
		}
		if err := db.UpdateSchemaVersion(cfg.DatabaseName, m.CurrVersion, m.MinCompatibleVersion); err != nil {
			return from, current, fmt.Errorf("record version %s: %w", v, err)
		}
		sum := fmt.Sprintf("%x", md5.Sum(raw))
		if err := db.WriteSchemaUpdateLog(current, m.CurrVersion, sum, m.Description); err != nil {
			return from, current, fmt.Errorf("record version %s: %w", v, err)
		}
		current = m.CurrVersion
	}
	if compareVersions(current, target) != 0 {
		return from, current, fmt.Errorf("the schema files end at %s, not at the server's %s", current, target)
	}
	return from, current, nil
}

// compareVersions orders "major.minor[.patch]" versions numerically.
func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x - y
		}
	}
	return 0
}

// ports: the frontend's gRPC port is o.port; the others follow it.
func (o options) ports() (frontendMembership, history, historyMembership, matching, matchingMembership, worker, workerMembership, frontendHTTP int) {
	p := o.port
	return p + 1, p + 2, p + 3, p + 4, p + 5, p + 6, p + 7, p + 8
}

// serverConfig is the cluster's configuration: one node running all four
// services, PostgreSQL for persistence and visibility, static membership.
func (o options) serverConfig() *config.Config {
	fm, h, hm, m, mm, w, wm, fh := o.ports()
	svc := func(grpc, membership int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: grpc, MembershipPort: membership, BindOnIP: o.host}}
	}
	frontend := svc(o.port, fm)
	frontend.RPC.HTTPPort = fh
	const (
		defaultStore    = "postgres-default"
		visibilityStore = "postgres-visibility"
	)
	return &config.Config{
		Global: config.Global{
			Membership: config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: o.host},
		},
		Persistence: config.Persistence{
			DefaultStore:     defaultStore,
			VisibilityStore:  visibilityStore,
			NumHistoryShards: int32(o.shards),
			DataStores: map[string]config.DataStore{
				defaultStore:    {SQL: o.sqlConfig(o.db, 10)},
				visibilityStore: {SQL: o.sqlConfig(o.visibilityDB, 5)},
			},
		},
		ClusterMetadata: &cluster.Config{
			EnableGlobalNamespace:    false,
			FailoverVersionIncrement: 10,
			MasterClusterName:        "active",
			CurrentClusterName:       "active",
			ClusterInformation: map[string]cluster.ClusterInformation{
				"active": {Enabled: true, InitialFailoverVersion: 1, RPCAddress: o.frontend},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services: map[string]config.Service{
			"frontend": frontend,
			"history":  svc(h, hm),
			"matching": svc(m, mm),
			"worker":   svc(w, wm),
		},
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{Archival: config.ArchivalNamespaceDefaults{
			History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
			Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
		}},
		PublicClient: config.PublicClient{HostPort: o.frontend},
	}
}

// serve runs the server until SIGINT or SIGTERM.
func serve(o options) error {
	for _, p := range []int{o.port, o.port + 8} {
		l, err := net.Listen("tcp", net.JoinHostPort(o.host, strconv.Itoa(p)))
		if err != nil {
			return fmt.Errorf("port %d is taken (is a cluster running already?): %w", p, err)
		}
		l.Close()
	}
	_, h, _, m, _, w, _, _ := o.ports()
	hostOf := func(port int) static.Hosts {
		return static.SingleLocalHost(net.JoinHostPort(o.host, strconv.Itoa(port)))
	}
	srv, err := temporal.NewServer(
		temporal.WithConfig(o.serverConfig()),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(map[primitives.ServiceName]static.Hosts{
			primitives.FrontendService: hostOf(o.port),
			primitives.HistoryService:  hostOf(h),
			primitives.MatchingService: hostOf(m),
			primitives.WorkerService:   hostOf(w),
		}),
		temporal.WithLogger(o.logger()),
		temporal.WithAuthorizer(authorization.NewNoopAuthorizer()),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return authorization.NewNoopClaimMapper() }),
		temporal.WithDynamicConfigClient(dynamicconfig.StaticClient{
			// A namespace the tests register is usable within a second.
			dynamicconfig.NamespaceCacheRefreshInterval.Key(): time.Second,
		}),
	)
	if err != nil {
		return fmt.Errorf("create server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	regCtx, cancel := context.WithTimeout(ctx, time.Minute)
	err = registerNamespaces(regCtx, o)
	cancel()
	if err != nil {
		_ = srv.Stop()
		return err
	}
	fmt.Printf("temporal-cluster: frontend %s ready (pid %d, namespaces %s, persistence %s/%s and %s/%s)\n",
		o.frontend, os.Getpid(), strings.Join(o.namespaces, ","), o.pgAddr, o.db, o.pgAddr, o.visibilityDB)
	<-ctx.Done()
	fmt.Println("temporal-cluster: stopping")
	return srv.Stop()
}

func dial(ctx context.Context, o options) (client.Client, error) {
	var last error
	for {
		c, err := client.DialContext(ctx, client.Options{HostPort: o.frontend, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
		if err == nil {
			return c, nil
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("frontend %s does not answer: %w", o.frontend, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// registerNamespaces registers each namespace the frontend does not know,
// with the shortest retention the server allows.
func registerNamespaces(ctx context.Context, o options) error {
	c, err := dial(ctx, o)
	if err != nil {
		return err
	}
	defer c.Close()
	for _, ns := range o.namespaces {
		_, err := c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace:                        ns,
			Description:                      "registered by internal/tools/temporal-cluster",
			WorkflowExecutionRetentionPeriod: timestamp.DurationPtr(24 * time.Hour),
		})
		var exists *serviceerror.NamespaceAlreadyExists
		if err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("register namespace %s: %w", ns, err)
		}
	}
	return nil
}

// waitReady returns once the frontend answers and knows every namespace.
func waitReady(o options) error {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	c, err := dial(ctx, o)
	if err != nil {
		return err
	}
	defer c.Close()
	for _, ns := range o.namespaces {
		for {
			_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
			if err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("namespace %s: %w", ns, err)
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	return nil
}
