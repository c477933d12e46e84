package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/api"
	"github.com/kanri-itsm/kanri/cases"
	"github.com/kanri-itsm/kanri/engine"
	"github.com/kanri-itsm/kanri/metrics"
	"github.com/kanri-itsm/kanri/policy"
	"github.com/kanri-itsm/kanri/store"
)

// settle fills what neither the flags nor the environment set from the
// configuration file's server section, then from the defaults.
func settle(mode string, o *options, cfg *policy.Config) {
	s := cfg.Server
	first := func(vals ...string) string {
		for _, v := range vals {
			if v != "" {
				return v
			}
		}
		return ""
	}
	o.dataDir = first(o.dataDir, s.DataDir, "./.kanri")
	defaultHTTP := "127.0.0.1:8080"
	if mode == "worker" {
		defaultHTTP = "127.0.0.1:8081"
	}
	o.httpAddr = first(o.httpAddr, s.HTTP, defaultHTTP)
	if o.temporalPort == 0 {
		o.temporalPort = s.TemporalPort
	}
	if o.temporalPort == 0 {
		o.temporalPort = 7233
	}
	o.temporalAddress = first(o.temporalAddress, s.TemporalAddress, "127.0.0.1:7233")
	o.temporalNamespace = first(o.temporalNamespace, s.TemporalNamespace, "default")
	o.taskQueue = first(o.taskQueue, s.TaskQueue, "kanri")
	if mode == "dev" {
		o.databaseURL = first(o.databaseURL, s.DatabaseURL, filepath.Join(o.dataDir, "kanri.db"))
	} else {
		o.databaseURL = first(o.databaseURL, s.DatabaseURL)
	}
}

func loadConfig(path string) (*policy.Config, error) {
	if path == "" {
		return policy.Default(), nil
	}
	return policy.Load(path)
}

// start wires the parts of the command in order and runs until ctx ends,
// then shuts down in reverse: HTTP, then workers, then the engine.
func start(ctx context.Context, mode string, o options, log *slog.Logger, stdout io.Writer) error {
	began := time.Now()
	cfg, err := loadConfig(o.configPath)
	if err != nil {
		return err
	}
	settle(mode, &o, cfg)
	if o.databaseURL == "" {
		return errors.New("--database-url is required (postgres://...)")
	}

	db, err := store.Open(ctx, o.databaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if mode == "migrate" {
		if err := db.Migrate(ctx); err != nil {
			return err
		}
		log.Info("migrations applied", "database", db.Dialect())
		return nil
	}
	if mode != "worker" {
		if err := db.Migrate(ctx); err != nil {
			return err
		}
		if err := seed(ctx, db, cfg); err != nil {
			return err
		}
	}

	var emb *engine.Embedded
	address := o.temporalAddress
	if mode == "dev" {
		emb, err = engine.StartEmbedded(ctx, engine.EmbeddedOptions{
			DataDir: o.dataDir, Port: o.temporalPort, Namespace: o.temporalNamespace, Logger: log,
		})
		if err != nil {
			return err
		}
		defer func() {
			if err := emb.Stop(); err != nil {
				log.Warn("engine stop", "err", err)
			}
		}()
		address = emb.Address()
	}
	tc, err := engine.Dial(engine.ClientOptions{
		Address: address, Namespace: o.temporalNamespace, TLS: o.temporalTLS, CAFile: o.temporalCA,
		CertFile: o.temporalCert, KeyFile: o.temporalKey, ServerName: o.temporalServerName, Logger: log,
	})
	if err != nil {
		return err
	}
	defer tc.Close()

	m := metrics.New()
	w := engine.NewWorker(tc, &activities.Activities{Store: db, Observer: m}, engine.WorkerOptions{
		TaskQueue: o.taskQueue, MaxConcurrentWorkflowTasks: o.workflowTasks, MaxConcurrentActivities: o.activities,
	})
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	var workerUp atomic.Bool
	workerUp.Store(true)
	defer func() {
		workerUp.Store(false)
		w.Stop()
	}()

	ready := func(ctx context.Context) error {
		if !workerUp.Load() {
			return errors.New("workers stopped")
		}
		if err := db.Ping(ctx); err != nil {
			return fmt.Errorf("database: %w", err)
		}
		if _, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
			return fmt.Errorf("temporal: %w", err)
		}
		return nil
	}
	var handler http.Handler
	if mode == "worker" {
		handler = api.New(api.Options{Metrics: m, Logger: log, Ready: ready})
	} else {
		handler = api.New(api.Options{
			Cases:        &cases.Service{Temporal: tc, Store: db, Config: cfg, TaskQueue: o.taskQueue},
			Directory:    db,
			Metrics:      m,
			Logger:       log,
			MaxBodyBytes: cfg.Server.MaxBodyBytes,
			Ready:        ready,
		})
	}
	ln, err := net.Listen("tcp", o.httpAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.httpAddr, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	announce(stdout, mode, ln.Addr().String(), address, cfg, time.Since(began))
	log.Info("kanri ready", "command", mode, "http", ln.Addr().String(), "temporal", address,
		"database", db.Dialect(), "took", time.Since(began).Round(time.Millisecond))

	select {
	case <-ctx.Done():
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	}
	log.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		log.Warn("http shutdown", "err", err)
	}
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
	return nil
}

// announce tells the person who started Kanri where it is and how to talk
// to it.
func announce(w io.Writer, mode, httpAddr, temporal string, cfg *policy.Config, took time.Duration) {
	if mode == "worker" {
		fmt.Fprintf(w, "kanri worker is ready in %s: health and metrics on http://%s\n", took.Round(time.Millisecond), httpAddr)
		return
	}
	fmt.Fprintf(w, "Kanri is ready in %s.\n  API:      http://%s/api/v1\n  Temporal: %s\n", took.Round(time.Millisecond), httpAddr, temporal)
	for _, u := range cfg.Users {
		if u.Token != "" && mode == "dev" {
			fmt.Fprintf(w, "  Try:      curl -H 'Authorization: Bearer %s' http://%s/api/v1/incidents   (user %s)\n", u.Token, httpAddr, u.ID)
			break
		}
	}
}
