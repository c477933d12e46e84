// Package engine starts the Temporal engine Kanri runs on: an in-process server
// persisted to SQLite for `kanri dev`, or a client of an external cluster for
// `kanri server` and `kanri worker`.
package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	_ "modernc.org/sqlite" // the driver the engine itself uses, for setupVisibility
)

// EmbeddedOptions configures the in-process server.
type EmbeddedOptions struct {
	// DataDir holds the engine's SQLite file (temporal.db). It is kept apart
	// from the application database: the two must never share a file.
	DataDir string
	// Port is the frontend gRPC port on 127.0.0.1, so the Temporal CLI and
	// Web UI can attach. Zero picks a free port (see Address), which tests
	// and `kanri bench` use: a port picked by the caller can be taken by
	// another process before the server binds it, and only StartEmbedded
	// can then try again on another.
	Port      int
	Namespace string
	Logger    *slog.Logger
}

// Embedded is a running in-process Temporal server.
type Embedded struct {
	server   temporal.Server
	address  string
	stopping *atomic.Bool
}

// Address is the frontend's host:port.
func (e *Embedded) Address() string { return e.address }

// Stop shuts the server down.
func (e *Embedded) Stop() error {
	e.stopping.Store(true)
	return e.server.Stop()
}

// StartEmbedded starts a single-node Temporal server on SQLite with the WAL
// journal, registers the namespace and returns once the frontend accepts
// connections. It follows the Temporal CLI's dev server, which cannot be
// imported, through the server's public packages.
func StartEmbedded(ctx context.Context, opts EmbeddedOptions) (*Embedded, error) {
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(opts.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("engine: create data directory: %w", err)
	}
	dbPath := filepath.Join(opts.DataDir, "temporal.db")
	const host = "127.0.0.1"
	if opts.Port != 0 && !portFree(host, opts.Port) {
		return nil, fmt.Errorf("engine: port %s:%d is in use (set --temporal-port)", host, opts.Port)
	}

	// Visibility (the engine's index of workflows, which the Temporal UI
	// lists) lives in a file of its own. The SQLite plugin gives each file
	// one connection, so in one file every visibility write (an FTS5 update
	// per start and per close, about 3 ms each) queued behind the history
	// writes cases wait on, and took a third of the engine's time in
	// `kanri bench engine`. A data directory made before the split keeps
	// its one file, so that no workflow drops out of the index.
	visPath := filepath.Join(opts.DataDir, "temporal-visibility.db")
	hasDB, hasVis := exists(dbPath), exists(visPath)
	if hasDB && !hasVis {
		visPath = dbPath // made before the split
	}
	sqlConf := sqliteConfig(dbPath)
	visConf := sqliteConfig(visPath)
	if !hasDB {
		if err := sqliteschema.SetupSchema(sqlConf); err != nil {
			return nil, fmt.Errorf("engine: create schema in %s: %w", dbPath, err)
		}
	}
	if visPath != dbPath && !hasVis {
		if err := setupVisibility(visConf); err != nil {
			return nil, err
		}
	}
	ns, err := sqliteschema.NewNamespaceConfig("active", opts.Namespace, false, nil)
	if err != nil {
		return nil, fmt.Errorf("engine: namespace config: %w", err)
	}
	if err := sqliteschema.CreateNamespaces(sqlConf, ns); err != nil {
		return nil, fmt.Errorf("engine: register namespace %q: %w", opts.Namespace, err)
	}

	// The internal ports (and the frontend's, when Port is zero) are picked
	// free and then bound by the server, and another process may take one
	// in between: the server is built again on fresh ports when that
	// happens.
	var lastErr error
	for range 3 {
		ports := make([]int, 0, 8)
		for range 8 {
			p, err := freePort(host)
			if err != nil {
				return nil, err
			}
			ports = append(ports, p)
		}
		try := opts
		if try.Port == 0 {
			p, err := freePort(host)
			if err != nil {
				return nil, err
			}
			try.Port = p
		}
		e, err := startOnPorts(try, host, sqlConf, visConf, ports)
		if err == nil {
			return e, nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
		opts.Logger.Warn("engine: a port was taken while starting; trying other ports", "err", err)
	}
	return nil, lastErr
}

// startOnPorts builds and starts the server with the frontend on opts.Port
// and the other services on ports.
func startOnPorts(opts EmbeddedOptions, host string, sqlConf, visConf *config.SQL, ports []int) (_ *Embedded, err error) {
	defer func() {
		if r := recover(); r != nil {
			fe, ok := r.(fatalError)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("engine: start server: %w", fe)
		}
	}()
	frontend := net.JoinHostPort(host, strconv.Itoa(opts.Port))
	svc := func(grpc, membership int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: grpc, MembershipPort: membership, BindOnIP: host}}
	}
	// The frontend's HTTP API (and Nexus) on a free port, as the CLI's dev
	// server does.
	frontendService := svc(opts.Port, ports[0])
	frontendService.RPC.HTTPPort = ports[7]
	conf := &config.Config{
		Global: config.Global{
			Membership: config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: host},
		},
		Persistence: config.Persistence{
			DefaultStore:     "history",
			VisibilityStore:  "visibility",
			NumHistoryShards: 1, // SQLite allows one connection; more shards only contend
			DataStores: map[string]config.DataStore{
				"history":    {SQL: sqlConf},
				"visibility": {SQL: visConf},
			},
		},
		ClusterMetadata: &cluster.Config{
			EnableGlobalNamespace:    false,
			FailoverVersionIncrement: 10,
			MasterClusterName:        "active",
			CurrentClusterName:       "active",
			ClusterInformation: map[string]cluster.ClusterInformation{
				"active": {Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontend},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services: map[string]config.Service{
			"frontend": frontendService,
			"history":  svc(ports[1], ports[2]),
			"matching": svc(ports[3], ports[4]),
			"worker":   svc(ports[5], ports[6]),
		},
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{Archival: config.ArchivalNamespaceDefaults{
			History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
			Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
		}},
		PublicClient: config.PublicClient{HostPort: frontend},
	}
	hostOf := func(port int) static.Hosts {
		return static.SingleLocalHost(net.JoinHostPort(host, strconv.Itoa(port)))
	}
	dyn := dynamicconfig.StaticClient{
		// The history service's cache of workflow state: 2048 entries, not
		// the default 8096, which held every open case of `kanri bench
		// density` at about 20 KB each. Every workflow task leaves a timeout
		// timer that fires 10 s later and loads the case's state only to
		// find the task done; at 150 cases a second 512 entries no longer
		// held those cases, each timer read the state back from SQLite, and
		// with 6,000 SLA timers due within 45 s the p99 lateness of `kanri
		// bench timers` was 20–28 s (2–4.6 s with 2048). Density at 10,000
		// open cases: 27 KB per case, against 23 KB with 512.
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key():                 2048,
		dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key():      true,
		dynamicconfig.FrontendPersistenceMaxQPS.Key():                    10000,
		dynamicconfig.HistoryPersistenceMaxQPS.Key():                     45000,
	}
	stopping := new(atomic.Bool)
	srv, err := temporal.NewServer(
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(map[primitives.ServiceName]static.Hosts{
			primitives.FrontendService: hostOf(opts.Port),
			primitives.HistoryService:  hostOf(ports[1]),
			primitives.MatchingService: hostOf(ports[3]),
			primitives.WorkerService:   hostOf(ports[5]),
		}),
		temporal.WithLogger(newServerLogger(opts.Logger, stopping)),
		temporal.WithAuthorizer(authorization.NewNoopAuthorizer()),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return authorization.NewNoopClaimMapper() }),
		temporal.WithDynamicConfigClient(dyn),
	)
	if err != nil {
		return nil, fmt.Errorf("engine: create server: %w", err)
	}
	if err := srv.Start(); err != nil {
		stopping.Store(true)
		_ = srv.Stop()
		return nil, fmt.Errorf("engine: start server: %w", err)
	}
	return &Embedded{server: srv, address: frontend, stopping: stopping}, nil
}

// visibilityIndexes are the indexes of the engine's visibility table that
// a fresh visibility file keeps: the order of the Temporal UI's list and
// its filters by id, type, status and start time, and the division that
// separates the engine's own workflows. The schema indexes every custom
// search-attribute slot as well (64 indexes in all), which Kanri does not
// use, and each written row paid for every one of them.
var visibilityIndexes = map[string]bool{
	"default_idx": true, "by_execution_time": true, "by_workflow_id": true,
	"by_workflow_type": true, "by_status": true, "by_temporal_namespace_division": true,
}

// setupVisibility creates a visibility file with the engine's schema, less
// the indexes Kanri has no use for.
func setupVisibility(c *config.SQL) error {
	if err := sqliteschema.SetupSchema(c); err != nil {
		return fmt.Errorf("engine: create schema in %s: %w", c.DatabaseName, err)
	}
	db, err := sql.Open("sqlite", c.DatabaseName)
	if err != nil {
		return fmt.Errorf("engine: open %s: %w", c.DatabaseName, err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'executions_visibility' AND sql IS NOT NULL`)
	if err != nil {
		return fmt.Errorf("engine: list the visibility indexes: %w", err)
	}
	var drop []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return fmt.Errorf("engine: list the visibility indexes: %w", err)
		}
		if !visibilityIndexes[name] {
			drop = append(drop, name)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("engine: list the visibility indexes: %w", err)
	}
	for _, name := range drop {
		if _, err := db.Exec(`DROP INDEX "` + name + `"`); err != nil {
			return fmt.Errorf("engine: drop visibility index %s: %w", name, err)
		}
	}
	return nil
}

// sqliteConfig is the plugin's configuration of one database file.
func sqliteConfig(path string) *config.SQL {
	return &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: path,
		// Raw pragma names: the plugin turns unknown attributes into _pragma=k=v.
		// WAL makes the file two to three times faster than the default journal.
		// A page cache of 32 MiB (the default is 2 MiB) keeps the hot part of
		// the file in memory instead of reading it back a page per system
		// call: intake went from ~137 to ~153 cases a second in `kanri
		// bench`, for about 50 MB more resident memory at most.
		ConnectAttributes: map[string]string{
			"mode":         "rwc",
			"journal_mode": "WAL",
			"synchronous":  "NORMAL",
			"cache_size":   "-32768",
		},
	}
}

// exists reports whether a file is at path; any error but its absence
// counts as there, so that StartEmbedded never sets up a schema over a file
// it merely could not stat.
func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("engine: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func portFree(host string, port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}
