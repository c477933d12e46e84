package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

const timeout = 2 * time.Minute

// The services docker-compose.yml must have, by role.
var (
	composeServices = []string{
		"temporal-postgresql", "temporal-schema", "temporal", "temporal-namespace", "temporal-ui",
		"postgres", "migrate", "server", "worker", "mailpit",
	}
	// Long-running services that others wait on or that a person watches.
	composeHealthchecked = []string{"temporal-postgresql", "temporal", "postgres", "server", "worker", "mailpit"}
	// One-shot services: they run to completion and are not restarted.
	composeOneShot = []string{"temporal-schema", "temporal-namespace", "migrate"}
)

func checkCompose(c *checker, k *kanri, file string) {
	where := file
	abs, err := filepath.Abs(file)
	if err != nil {
		c.fail(where, "%v", err)
		return
	}
	// The environment of the machine is left out: the file's own defaults
	// are what is checked.
	opts, err := cli.NewProjectOptions([]string{abs},
		cli.WithWorkingDirectory(filepath.Dir(abs)),
		cli.WithEnv(nil),
		cli.WithName("kanri"),
	)
	if err != nil {
		c.fail(where, "%v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	project, err := opts.LoadProject(ctx)
	if !c.check(err == nil, where, "compose-go cannot load it: %v", err) {
		return
	}

	for _, name := range composeServices {
		_, ok := project.Services[name]
		c.check(ok, where, "service %q is missing", name)
	}
	for _, name := range composeHealthchecked {
		if s, ok := project.Services[name]; ok {
			c.check(s.HealthCheck != nil && !s.HealthCheck.Disable && len(s.HealthCheck.Test) > 0,
				where+": "+name, "has no healthcheck")
		}
	}
	for _, name := range composeOneShot {
		if s, ok := project.Services[name]; ok {
			c.check(s.Restart == "no" || s.Restart == "", where+": "+name, "a one-shot service must not restart (restart: %q)", s.Restart)
		}
	}

	for _, name := range sortedKeys(project.Services) {
		s := project.Services[name]
		sw := where + ": " + name
		for dep, d := range s.DependsOn {
			target, ok := project.Services[dep]
			if !c.check(ok, sw, "depends on unknown service %q", dep) {
				continue
			}
			switch d.Condition {
			case types.ServiceConditionHealthy:
				c.check(target.HealthCheck != nil && !target.HealthCheck.Disable, sw,
					"waits for %q to be healthy, which has no healthcheck", dep)
			case types.ServiceConditionCompletedSuccessfully:
				c.check(slices.Contains(composeOneShot, dep), sw, "waits for %q to complete, which is not a one-shot service", dep)
			case types.ServiceConditionStarted:
				c.note(sw, "depends on %q only being started", dep)
			}
		}
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			_, err := os.Stat(v.Source)
			c.check(err == nil, sw, "bind-mounts %s, which does not exist", v.Source)
		}
		if isKanri(s) {
			checkComposeKanri(c, k, sw, s)
		}
	}

	// The scale-out: `docker compose up --scale worker=N` needs a worker
	// without a fixed container name or a published host port.
	if w, ok := project.Services["worker"]; ok {
		c.check(w.ContainerName == "", where+": worker", "has container_name %q: it cannot be scaled", w.ContainerName)
		for _, p := range w.Ports {
			c.check(p.Published == "", where+": worker", "publishes host port %s: a second replica could not start", p.Published)
		}
		c.check(len(w.Command) > 0 && w.Command[0] == "worker", where+": worker", "does not run `kanri worker` (command %v)", w.Command)
	}
	if s, ok := project.Services["server"]; ok {
		c.check(len(s.Command) > 0 && s.Command[0] == "server", where+": server", "does not run `kanri server` (command %v)", s.Command)
	}
	if s, ok := project.Services["migrate"]; ok {
		c.check(len(s.Command) > 0 && s.Command[0] == "migrate", where+": migrate", "does not run `kanri migrate` (command %v)", s.Command)
	}
}

// isKanri reports whether the service runs the kanri image: it is built
// from this repository.
func isKanri(s types.ServiceConfig) bool {
	return s.Build != nil || strings.Contains(s.Image, "kanri")
}

func checkComposeKanri(c *checker, k *kanri, where string, s types.ServiceConfig) {
	if !c.check(len(s.Command) > 0 && kanriCommands[s.Command[0]], where, "command %v is not a kanri command", s.Command) {
		return
	}
	command := s.Command[0]
	env := map[string]string{}
	for name, v := range s.Environment {
		if v != nil {
			env[name] = *v
		} else {
			env[name] = ""
		}
	}
	required := []string{"KANRI_DATABASE_URL"}
	if command == "server" || command == "worker" {
		required = append(required, "KANRI_HTTP", "KANRI_TEMPORAL_ADDRESS", "KANRI_CONFIG")
	}
	checkEnv(c, k, where, command, env, required...)
	if addr, ok := env["KANRI_HTTP"]; ok {
		port := 0
		if command == "server" && len(s.Ports) > 0 {
			port = int(s.Ports[0].Target)
		}
		checkListen(c, where, addr, port)
	}
	if url, ok := env["KANRI_DATABASE_URL"]; ok {
		c.check(strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://"), where,
			"KANRI_DATABASE_URL %q is not a PostgreSQL URL", url)
	}
	if cfg, ok := env["KANRI_CONFIG"]; ok {
		var source string
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind && v.Target == cfg {
				source = v.Source
			}
		}
		if c.check(source != "", where, "KANRI_CONFIG %s is not a mounted file", cfg) {
			data, err := os.ReadFile(source)
			if c.check(err == nil, where, "read %s: %v", source, err) {
				err := k.validateConfig(data)
				c.check(err == nil, where, "kanri rejects %s: %v", source, err)
			}
		}
	}
}
