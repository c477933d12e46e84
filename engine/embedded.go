// Package engine starts the Temporal engine Kanri runs on: an in-process server
// persisted to SQLite for `kanri dev`, or a client of an external cluster for
// `kanri server` and `kanri worker`.
package engine

import (
	"context"
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
)

// EmbeddedOptions configures the in-process server.
type EmbeddedOptions struct {
	// DataDir holds the engine's SQLite file (temporal.db). It is kept apart
	// from the application database: the two must never share a file.
	DataDir string
	// Port is the frontend gRPC port on 127.0.0.1, so the Temporal CLI and
	// Web UI can attach.
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
	if !portFree(host, opts.Port) {
		return nil, fmt.Errorf("engine: port %s:%d is in use (set --temporal-port)", host, opts.Port)
	}

	sqlConf := &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: dbPath,
		// Raw pragma names: the plugin turns unknown attributes into _pragma=k=v.
		// WAL makes the file two to three times faster than the default journal.
		ConnectAttributes: map[string]string{
			"mode":         "rwc",
			"journal_mode": "WAL",
			"synchronous":  "NORMAL",
		},
	}
	if _, err := os.Stat(dbPath); errors.Is(err, os.ErrNotExist) {
		if err := sqliteschema.SetupSchema(sqlConf); err != nil {
			return nil, fmt.Errorf("engine: create schema in %s: %w", dbPath, err)
		}
	}
	ns, err := sqliteschema.NewNamespaceConfig("active", opts.Namespace, false, nil)
	if err != nil {
		return nil, fmt.Errorf("engine: namespace config: %w", err)
	}
	if err := sqliteschema.CreateNamespaces(sqlConf, ns); err != nil {
		return nil, fmt.Errorf("engine: register namespace %q: %w", opts.Namespace, err)
	}

	// The internal ports are picked free and then bound by the server, and
	// another process may take one in between: the server is built again on
	// fresh ports when that happens.
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
		e, err := startOnPorts(opts, host, sqlConf, ports)
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
func startOnPorts(opts EmbeddedOptions, host string, sqlConf *config.SQL, ports []int) (_ *Embedded, err error) {
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
			DefaultStore:     sqliteplugin.PluginName,
			VisibilityStore:  sqliteplugin.PluginName,
			NumHistoryShards: 1, // SQLite allows one connection; more shards only contend
			DataStores:       map[string]config.DataStore{sqliteplugin.PluginName: {SQL: sqlConf}},
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
		// The history service's cache of workflow state: 512 entries (the
		// default is 8096) cut resident memory by about 20 KB per open case
		// in `kanri bench density` without slowing timers or intake, since
		// SQLite reads the state back quickly.
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key():                 512,
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
