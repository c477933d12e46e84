// Package app wires Kanri's parts together for each command: the store, the
// engine (embedded or a cluster), the workers and the HTTP API, started in
// order and stopped in reverse.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/api"
	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/engine"
	"github.com/kanri-itsm/kanri/metrics"
	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/store"
	"github.com/kanri-itsm/kanri/tracing"
)

// Modes of running.
const (
	ModeDev     = "dev"
	ModeServer  = "server"
	ModeWorker  = "worker"
	ModeMigrate = "migrate"
)

// DevWorkflowCache is the workflow cache of `kanri dev` when none is set.
// Each cached execution keeps its coroutines' stacks and state, about
// 80 KB of resident memory; one that falls out is replayed from its short
// history when it next has work. With 256 `kanri bench density` measured
// 44 KB per open incident at 2,000 (94 KB with the SDK's 10,000) with no
// slower timers or approvals; on a single machine memory is what runs out.
const DevWorkflowCache = 256

// AnyTemporalPort, as Options.TemporalPort, starts the embedded engine on
// a free port of its own choosing, retried if another process takes it
// first. Tests and `kanri bench` run many instances side by side.
const AnyTemporalPort = -1

// Options configure a run. Empty fields take the configuration file's
// server section, then the defaults (see Settle).
type Options struct {
	Mode string
	// Config is used as is when set; otherwise ConfigPath is loaded, and
	// without a path the built-in demo configuration applies.
	Config     *policy.Config
	ConfigPath string

	DataDir  string
	HTTPAddr string
	// TemporalPort is the embedded engine's frontend port; AnyTemporalPort
	// lets the engine pick a free one.
	TemporalPort int

	TemporalAddress    string
	TemporalNamespace  string
	TemporalTLS        bool
	TemporalCA         string
	TemporalCert       string
	TemporalKey        string
	TemporalServerName string
	TaskQueue          string
	DatabaseURL        string
	WorkflowTasks      int
	Activities         int
	WorkflowCache      int
	WorkflowPollers    int

	// The PostgreSQL pool (store.Pool); zero keeps store.DefaultPool.
	DBMaxOpenConns    int
	DBMaxIdleConns    int
	DBConnMaxLifetime time.Duration
	DBConnMaxIdleTime time.Duration

	// OTLPEndpoint turns on OpenTelemetry tracing (see package tracing);
	// OTLPProtocol is grpc (default) or http/protobuf.
	OTLPEndpoint string
	OTLPProtocol string
	// OTLPTracesURL says that OTLPEndpoint came from
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, a URL used as is.
	OTLPTracesURL bool
	// TracerProvider, when set, traces into it whatever OTLPEndpoint says
	// (tests record spans in memory this way).
	TracerProvider trace.TracerProvider

	Logger *slog.Logger
	// Stdout receives the ready message for a person; nil prints nothing.
	Stdout io.Writer
}

// Settle fills what the flags and the environment left unset from the
// configuration file's server section, then from the defaults.
func (o *Options) Settle(cfg *policy.Config) {
	s := cfg.Server
	first := func(vals ...string) string {
		for _, v := range vals {
			if v != "" {
				return v
			}
		}
		return ""
	}
	o.DataDir = first(o.DataDir, s.DataDir, "./.kanri")
	defaultHTTP := "127.0.0.1:8080"
	if o.Mode == ModeWorker {
		defaultHTTP = "127.0.0.1:8081"
	}
	o.HTTPAddr = first(o.HTTPAddr, s.HTTP, defaultHTTP)
	if o.TemporalPort == 0 {
		o.TemporalPort = s.TemporalPort
	}
	if o.TemporalPort == 0 {
		o.TemporalPort = 7233
	}
	o.TemporalAddress = first(o.TemporalAddress, s.TemporalAddress, "127.0.0.1:7233")
	o.TemporalNamespace = first(o.TemporalNamespace, s.TemporalNamespace, "default")
	o.TaskQueue = first(o.TaskQueue, s.TaskQueue, "kanri")
	o.TemporalTLS = o.TemporalTLS || s.TemporalTLS
	o.TemporalCA = first(o.TemporalCA, s.TemporalTLSCA)
	o.TemporalCert = first(o.TemporalCert, s.TemporalTLSCert)
	o.TemporalKey = first(o.TemporalKey, s.TemporalTLSKey)
	o.TemporalServerName = first(o.TemporalServerName, s.TemporalTLSServerName)
	o.WorkflowTasks = cmp.Or(o.WorkflowTasks, s.WorkflowTasks)
	o.Activities = cmp.Or(o.Activities, s.Activities)
	o.WorkflowCache = cmp.Or(o.WorkflowCache, s.WorkflowCache)
	o.WorkflowPollers = cmp.Or(o.WorkflowPollers, s.WorkflowPollers, engine.DefaultWorkflowPollers)
	if o.WorkflowCache == 0 && o.Mode == ModeDev {
		o.WorkflowCache = DevWorkflowCache
	}
	def := store.DefaultPool
	o.DBMaxOpenConns = cmp.Or(o.DBMaxOpenConns, s.DBMaxOpenConns, def.MaxOpenConns)
	o.DBMaxIdleConns = cmp.Or(o.DBMaxIdleConns, s.DBMaxIdleConns, def.MaxIdleConns)
	o.DBConnMaxLifetime = cmp.Or(o.DBConnMaxLifetime, s.DBConnMaxLifetime.D(), def.ConnMaxLifetime)
	o.DBConnMaxIdleTime = cmp.Or(o.DBConnMaxIdleTime, s.DBConnMaxIdleTime.D(), def.ConnMaxIdleTime)
	o.OTLPEndpoint = first(o.OTLPEndpoint, s.OTLPEndpoint)
	o.OTLPProtocol = first(o.OTLPProtocol, s.OTLPProtocol, tracing.ProtocolGRPC)
	if o.Mode == ModeDev {
		o.DatabaseURL = first(o.DatabaseURL, s.DatabaseURL, filepath.Join(o.DataDir, "kanri.db"))
	} else {
		o.DatabaseURL = first(o.DatabaseURL, s.DatabaseURL)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// check refuses settled options that cannot work, naming the flag.
func (o *Options) check() error {
	var errs []error
	for _, v := range []struct {
		flag string
		n    int64
	}{
		{"--workflow-tasks", int64(o.WorkflowTasks)}, {"--activities", int64(o.Activities)},
		{"--workflow-cache", int64(o.WorkflowCache)}, {"--workflow-pollers", int64(o.WorkflowPollers)}, {"--db-max-open-conns", int64(o.DBMaxOpenConns)},
		{"--db-max-idle-conns", int64(o.DBMaxIdleConns)}, {"--db-conn-max-lifetime", int64(o.DBConnMaxLifetime)},
		{"--db-conn-max-idle-time", int64(o.DBConnMaxIdleTime)},
	} {
		if v.n < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative", v.flag))
		}
	}
	switch o.OTLPProtocol {
	case tracing.ProtocolGRPC, tracing.ProtocolHTTP:
	default:
		errs = append(errs, fmt.Errorf("--otlp-protocol %q: want %s or %s", o.OTLPProtocol, tracing.ProtocolGRPC, tracing.ProtocolHTTP))
	}
	return errors.Join(errs...)
}

// pool is the PostgreSQL pool the options ask for.
func (o *Options) pool() store.Pool {
	return store.Pool{MaxOpenConns: o.DBMaxOpenConns, MaxIdleConns: o.DBMaxIdleConns,
		ConnMaxLifetime: o.DBConnMaxLifetime, ConnMaxIdleTime: o.DBConnMaxIdleTime}
}

// App is a running Kanri process.
type App struct {
	opts     Options
	cfg      *policy.Config
	log      *slog.Logger
	store    *store.Store
	embedded *engine.Embedded
	temporal client.Client
	worker   worker.Worker
	workerUp atomic.Bool
	http     *http.Server
	listener net.Listener
	served   chan error
	ready    time.Duration
	closing  sync.Once
	bg       *background
	cases    *cases.Service
	metrics  *metrics.Metrics
	tracing  *tracing.Tracing
}

// Start brings the parts up in order: database (migrated and seeded), the
// engine, the workers, then the HTTP server. On error it closes what it
// started.
func Start(ctx context.Context, o Options) (a *App, err error) {
	began := time.Now()
	cfg := o.Config
	if cfg == nil {
		if o.ConfigPath == "" {
			cfg = policy.Default()
		} else if cfg, err = policy.Load(o.ConfigPath); err != nil {
			return nil, err
		}
	}
	o.Settle(cfg)
	if o.DatabaseURL == "" {
		return nil, errors.New("--database-url is required (postgres://...)")
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	a = &App{opts: o, cfg: cfg, log: o.Logger, served: make(chan error, 1)}
	defer func() {
		if err != nil {
			a.Close()
			a = nil
		}
	}()

	if a.store, err = store.OpenWithPool(ctx, o.DatabaseURL, o.pool()); err != nil {
		return a, err
	}
	if o.Mode != ModeWorker {
		if err = a.store.Migrate(ctx); err != nil {
			return a, err
		}
		if err = seed(ctx, a.store, cfg); err != nil {
			return a, err
		}
	}

	address := o.TemporalAddress
	if o.Mode == ModeDev {
		// The SDK sizes one workflow cache per process, when the first
		// worker starts, and the embedded server's own system workers start
		// before Kanri's: the size must be set before the engine starts.
		engine.SizeWorkflowCache(o.WorkflowCache)
		port := o.TemporalPort
		if port == AnyTemporalPort {
			port = 0 // the engine's "any"
		}
		a.embedded, err = engine.StartEmbedded(ctx, engine.EmbeddedOptions{
			DataDir: o.DataDir, Port: port, Namespace: o.TemporalNamespace, Logger: a.log,
		})
		if err != nil {
			return a, err
		}
		address = a.embedded.Address()
	}
	// The SDK reports its metrics on Kanri's registry, and traces (when
	// configured) through the client's interceptors, which its workers
	// share.
	a.metrics = metrics.New()
	if a.tracing, err = startTracing(ctx, o); err != nil {
		return a, err
	}
	co := engine.ClientOptions{
		Address: address, Namespace: o.TemporalNamespace, Logger: a.log,
		MetricsHandler: a.metrics.Temporal(), Interceptors: a.tracing.Interceptors(),
	}
	co.Uncompressed = o.Mode == ModeDev
	if o.Mode != ModeDev {
		// The embedded engine listens on loopback without TLS.
		co.TLS, co.CAFile, co.CertFile, co.KeyFile, co.ServerName = o.TemporalTLS, o.TemporalCA, o.TemporalCert, o.TemporalKey, o.TemporalServerName
	}
	if a.temporal, err = engine.Dial(co); err != nil {
		return a, err
	}

	m := a.metrics
	a.worker = engine.NewWorker(a.temporal, &activities.Activities{Store: a.store, IDs: a.store, CMDB: a.store, Observer: m}, engine.WorkerOptions{
		TaskQueue: o.TaskQueue, MaxConcurrentWorkflowTasks: o.WorkflowTasks, MaxConcurrentActivities: o.Activities,
		WorkflowCache: o.WorkflowCache, WorkflowPollers: o.WorkflowPollers,
	})
	if err = a.worker.Start(); err != nil {
		a.worker = nil
		return a, fmt.Errorf("start worker: %w", err)
	}
	a.workerUp.Store(true)

	apiOpts := api.Options{Metrics: m, Logger: a.log, Ready: a.checkReady}
	if o.Mode != ModeWorker {
		// In kanri dev this process's worker is the only one, so cases
		// open eagerly; a server shares the task queue with other workers.
		a.cases = &cases.Service{Temporal: a.temporal, Store: a.store, Config: cfg, TaskQueue: o.TaskQueue, EagerOpen: o.Mode == ModeDev}
		// The monthly service reports (clause 6.2) run as one long-lived
		// workflow; every server makes sure it runs, and the first wins.
		if err = a.cases.EnsureServiceReports(ctx); err != nil {
			return a, fmt.Errorf("start the monthly service reports: %w", err)
		}
		apiOpts.Cases = a.cases
		apiOpts.Directory = a.store
		apiOpts.MaxBodyBytes = cfg.Server.MaxBodyBytes
		dec, key, err := a.decider(ctx, apiOpts.Cases)
		if err != nil {
			return a, err
		}
		if dec != nil {
			apiOpts.MailLinks = dec
		}
		if err = a.startEmail(apiOpts.Cases, key); err != nil {
			return a, err
		}
		sl, err := a.startSlack(apiOpts.Cases)
		if err != nil {
			return a, err
		}
		if sl != nil {
			apiOpts.Slack = sl.Handler()
			apiOpts.SlackLink = sl.IssueLinkCode
		}
	}
	if a.listener, err = net.Listen("tcp", o.HTTPAddr); err != nil {
		return a, fmt.Errorf("listen on %s: %w", o.HTTPAddr, err)
	}
	a.http = &http.Server{
		Handler:           a.tracing.Handler(api.New(apiOpts)),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	go func() { a.served <- a.http.Serve(a.listener) }()
	a.ready = time.Since(began)
	a.announce(address)
	a.log.Info("kanri ready", "command", o.Mode, "http", a.Addr(), "temporal", address,
		"database", a.store.Dialect(), "tracing", a.tracing != nil, "took", a.ready.Round(time.Millisecond))
	return a, nil
}

// checkReady is /readyz: the database answers, the engine answers, and the
// workers run.
func (a *App) checkReady(ctx context.Context) error {
	if !a.workerUp.Load() {
		return errors.New("workers stopped")
	}
	if err := a.store.Ping(ctx); err != nil {
		return fmt.Errorf("database: %w", err)
	}
	if _, err := a.temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return fmt.Errorf("temporal: %w", err)
	}
	return nil
}

// Addr is the address the HTTP server listens on.
func (a *App) Addr() string { return a.listener.Addr().String() }

// TemporalAddress is the frontend the app's client dials (the embedded
// one in dev mode).
func (a *App) TemporalAddress() string {
	if a.embedded != nil {
		return a.embedded.Address()
	}
	return a.opts.TemporalAddress
}

// Cases is the case commands every edge uses; nil in worker mode.
func (a *App) Cases() *cases.Service { return a.cases }

// Store is the application database.
func (a *App) Store() *store.Store { return a.store }

// Temporal is the engine client.
func (a *App) Temporal() client.Client { return a.temporal }

// Served reports the HTTP server's end.
func (a *App) Served() <-chan error { return a.served }

// Close stops the parts in reverse: HTTP (letting requests in flight
// finish), the workers, the engine client, the engine, the database. It
// may be called more than once.
func (a *App) Close() { a.closing.Do(a.close) }

func (a *App) close() {
	if a.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		if err := a.http.Shutdown(ctx); err != nil {
			a.log.Warn("http shutdown", "err", err)
		}
		cancel()
	} else if a.listener != nil {
		a.listener.Close()
	}
	// The connectors after HTTP (Slack's requests are answered by their
	// jobs) and before the engine, through which they act.
	a.bg.stop()
	if a.worker != nil {
		a.workerUp.Store(false)
		a.worker.Stop()
	}
	if a.temporal != nil {
		a.temporal.Close()
	}
	// The spans of the last requests and tasks are flushed once nothing
	// makes more.
	if err := a.tracing.Shutdown(context.Background()); err != nil {
		a.log.Warn("tracing shutdown", "err", err)
	}
	if a.embedded != nil {
		if err := a.embedded.Stop(); err != nil {
			a.log.Warn("engine stop", "err", err)
		}
	}
	if a.store != nil {
		if err := a.store.Close(); err != nil {
			a.log.Warn("database close", "err", err)
		}
	}
}

// Run starts the app and serves until ctx ends.
func Run(ctx context.Context, o Options) error {
	if o.Mode == ModeMigrate {
		return Migrate(ctx, o)
	}
	a, err := Start(ctx, o)
	if err != nil {
		return err
	}
	defer a.Close()
	select {
	case <-ctx.Done():
		a.log.Info("shutting down")
		return nil
	case err := <-a.served:
		return fmt.Errorf("http server: %w", err)
	}
}

// Migrate applies the database migrations.
func Migrate(ctx context.Context, o Options) error {
	cfg := o.Config
	if cfg == nil {
		var err error
		if o.ConfigPath == "" {
			cfg = policy.Default()
		} else if cfg, err = policy.Load(o.ConfigPath); err != nil {
			return err
		}
	}
	o.Settle(cfg)
	if o.DatabaseURL == "" {
		return errors.New("--database-url is required")
	}
	if err := o.check(); err != nil {
		return err
	}
	db, err := store.OpenWithPool(ctx, o.DatabaseURL, o.pool())
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	o.Logger.Info("migrations applied", "database", db.Dialect())
	return nil
}

// seed writes the users, groups and services of the configuration into the
// directory tables; tokens are stored hashed.
func seed(ctx context.Context, db *store.Store, cfg *policy.Config) error {
	users := make([]store.SeedUser, 0, len(cfg.Users))
	for _, u := range cfg.Users {
		users = append(users, store.SeedUser{
			User:  store.User{ID: u.ID, Name: u.Name, Email: u.Email, SlackID: u.SlackID, Roles: u.Roles, Active: true},
			Token: u.Token,
		})
	}
	groups := make([]store.Group, 0, len(cfg.Groups))
	for _, g := range cfg.Groups {
		groups = append(groups, store.Group{ID: g.ID, Name: g.Name, Manager: g.Manager, Members: g.Members, Active: true})
	}
	services := make([]store.Service, 0, len(cfg.Services))
	for _, s := range cfg.Services {
		services = append(services, store.Service{ID: s.ID, Name: s.Name, Owner: s.Owner, Active: true})
	}
	if err := db.SeedDirectory(ctx, users, groups, services); err != nil {
		return fmt.Errorf("seed the directory from the configuration: %w", err)
	}
	return seedCMDB(ctx, db, cfg)
}

// seedCMDB registers the configuration's CIs that the CMDB does not hold
// yet. A CI registered before keeps what changes have written to it since:
// after its registration, a CI changes only through change management.
func seedCMDB(ctx context.Context, db *store.Store, cfg *policy.Config) error {
	now := time.Now().UTC()
	for _, c := range cfg.CMDB.CIs {
		ci := store.CI{ID: c.ID, Type: c.Type, Name: c.Name, Owner: c.Owner, Status: c.Status, Version: c.Version,
			Location: c.Location, Attributes: c.Attributes}
		for _, rel := range []struct {
			typ string
			to  []string
		}{{store.RelDependsOn, c.DependsOn}, {store.RelRunsOn, c.RunsOn}, {store.RelPartOf, c.PartOf}} {
			for _, to := range rel.to {
				ci.Relations = append(ci.Relations, store.Relation{Type: rel.typ, To: to})
			}
		}
		if _, err := db.RegisterCI(ctx, ci, "configuration", now); err != nil && !errors.Is(err, store.ErrCIExists) {
			return fmt.Errorf("register CI %s from the configuration: %w", c.ID, err)
		}
	}
	for _, s := range cfg.Services {
		if err := db.SetServiceCIs(ctx, s.ID, s.CIs); err != nil {
			return fmt.Errorf("compose service %s from the configuration: %w", s.ID, err)
		}
	}
	return nil
}

// announce tells the person who started Kanri where it is and how to talk
// to it.
func (a *App) announce(temporal string) {
	w := a.opts.Stdout
	if w == nil {
		return
	}
	took := a.ready.Round(time.Millisecond)
	if a.opts.Mode == ModeWorker {
		fmt.Fprintf(w, "kanri worker is ready in %s: health and metrics on http://%s\n", took, a.Addr())
		return
	}
	fmt.Fprintf(w, "Kanri is ready in %s.\n  API:      http://%s/api/v1\n  Temporal: %s\n", took, a.Addr(), temporal)
	if a.opts.Mode != ModeDev {
		return
	}
	for _, u := range a.cfg.Users {
		if u.Token != "" {
			fmt.Fprintf(w, "  Try:      curl -H 'Authorization: Bearer %s' http://%s/api/v1/incidents   (user %s)\n", u.Token, a.Addr(), u.ID)
			return
		}
	}
}

// startTracing installs tracing when an OTLP endpoint is configured (or a
// test gave a tracer provider); otherwise it returns nil and nothing is
// installed.
func startTracing(ctx context.Context, o Options) (*tracing.Tracing, error) {
	if o.TracerProvider != nil {
		return tracing.New(o.TracerProvider)
	}
	return tracing.Start(ctx, tracing.Options{Endpoint: o.OTLPEndpoint, TracesURL: o.OTLPTracesURL, Protocol: o.OTLPProtocol, Command: o.Mode})
}
