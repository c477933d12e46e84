// Command deploycheck validates Kanri's deployment files without a cluster
// or a Docker engine; .ci/deploy-check runs it.
//
//	deploycheck compose   -kanri BIN docker-compose.yml
//	deploycheck manifests -kanri BIN -expect Deployment=2,Job=1 rendered.yaml
//	deploycheck chart     -kanri BIN deploy/helm/kanri
//	deploycheck config    -kanri BIN kanri.yaml
//
// compose loads the file with compose-go, the loader of `docker compose`
// (schema, interpolation, merge keys, references), then checks the shape
// Kanri needs. manifests decodes each document of `helm template` output
// strictly into the Kubernetes API types (an unknown or misplaced field is an
// error) and checks how the objects refer to each other. Both check that
// every KANRI_* variable is a flag of the command the container runs, asking
// the kanri binary itself (`kanri <command> -h`), and that every kanri.yaml
// they carry is accepted by `kanri migrate --config` against a throw-away
// SQLite file. chart checks the chart's files without rendering them:
// Chart.yaml, and values.yaml with each ci/*-values.yaml against
// values.schema.json.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: deploycheck compose|manifests|chart|config -kanri BIN [flags] FILE...")
		os.Exit(2)
	}
	cmd := os.Args[1]
	fs := flag.NewFlagSet("deploycheck "+cmd, flag.ExitOnError)
	kanriBin := fs.String("kanri", "", "the kanri binary, asked for its flags and used to validate kanri.yaml")
	expect := fs.String("expect", "", "manifests: the kinds and counts that must be rendered, as Kind=N,Kind=N")
	_ = fs.Parse(os.Args[2:])
	if *kanriBin == "" || fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "deploycheck: -kanri and at least one file are required")
		os.Exit(2)
	}
	k := &kanri{bin: *kanriBin}
	c := &checker{}
	for _, file := range fs.Args() {
		switch cmd {
		case "compose":
			checkCompose(c, k, file)
		case "manifests":
			checkManifests(c, k, file, *expect)
		case "chart":
			checkChart(c, k, file)
		case "config":
			data, err := os.ReadFile(file)
			if err != nil {
				c.fail(file, "%v", err)
				continue
			}
			err = k.validateConfig(data)
			c.check(err == nil, file, "kanri rejects it: %v", err)
		default:
			fmt.Fprintf(os.Stderr, "deploycheck: unknown command %q\n", cmd)
			os.Exit(2)
		}
	}
	for _, w := range c.warnings {
		fmt.Println("  note:", w)
	}
	if len(c.problems) > 0 {
		for _, p := range c.problems {
			fmt.Println("  FAIL:", p)
		}
		fmt.Printf("deploycheck %s: %d problem(s)\n", cmd, len(c.problems))
		os.Exit(1)
	}
	fmt.Printf("deploycheck %s: ok (%d checks)\n", cmd, c.passed)
}

// checker collects problems rather than stopping at the first.
type checker struct {
	problems []string
	warnings []string
	passed   int
}

func (c *checker) fail(where, format string, args ...any) {
	c.problems = append(c.problems, where+": "+fmt.Sprintf(format, args...))
}

func (c *checker) note(where, format string, args ...any) {
	c.warnings = append(c.warnings, where+": "+fmt.Sprintf(format, args...))
}

// check records a passed check, or the problem.
func (c *checker) check(ok bool, where, format string, args ...any) bool {
	if ok {
		c.passed++
	} else {
		c.fail(where, format, args...)
	}
	return ok
}

// kanri asks the binary what it accepts.
type kanri struct {
	bin   string
	mu    sync.Mutex
	flags map[string]map[string]bool // command -> flag names
}

var flagLine = regexp.MustCompile(`(?m)^\s+-([a-z][a-z0-9-]*)`)

// envNames returns the KANRI_* variables `kanri <command>` reads: one for
// each of its flags.
func (k *kanri) envNames(command string) (map[string]bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.flags == nil {
		k.flags = map[string]map[string]bool{}
	}
	if f, ok := k.flags[command]; ok {
		return f, nil
	}
	var out bytes.Buffer
	cmd := exec.Command(k.bin, command, "-h")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = cleanEnv()
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s -h: %v\n%s", k.bin, command, err, out.String())
	}
	names := map[string]bool{}
	for _, m := range flagLine.FindAllStringSubmatch(out.String(), -1) {
		names["KANRI_"+strings.ToUpper(strings.ReplaceAll(m[1], "-", "_"))] = true
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s %s -h listed no flags:\n%s", k.bin, command, out.String())
	}
	k.flags[command] = names
	return names, nil
}

// validateConfig runs `kanri migrate --config FILE` against a fresh SQLite
// file: the binary parses the configuration strictly and validates it
// before it touches the database.
func (k *kanri) validateConfig(data []byte) error {
	dir, err := os.MkdirTemp("", "deploycheck-config-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "kanri.yaml")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, k.bin, "migrate", "--config", file, "--database-url", filepath.Join(dir, "check.db"), "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = cleanEnv()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%v\n%s", err, strings.TrimSpace(out.String()))
	}
	return nil
}

// cleanEnv is the environment without KANRI_*, so that nothing set on the
// machine changes what the binary is asked.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KANRI_") {
			env = append(env, kv)
		}
	}
	return env
}

// checkEnv checks the KANRI_* variables of a container that runs `kanri
// <command>`: each must be a flag of that command, and the required ones
// must be there.
func checkEnv(c *checker, k *kanri, where, command string, env map[string]string, required ...string) {
	known, err := k.envNames(command)
	if err != nil {
		c.fail(where, "%v", err)
		return
	}
	for _, name := range sortedKeys(env) {
		if !strings.HasPrefix(name, "KANRI_") {
			continue
		}
		c.check(known[name], where, "%s is not a flag of `kanri %s` (it reads %s)", name, command, strings.Join(sortedKeys(known), ", "))
	}
	for _, name := range required {
		_, ok := env[name]
		c.check(ok, where, "%s is not set", name)
	}
}

// checkListen checks KANRI_HTTP: reachable from outside the container, on
// the port the container declares.
func checkListen(c *checker, where, addr string, port int) {
	host, p, ok := strings.Cut(addr, ":")
	if !c.check(ok, where, "KANRI_HTTP %q is not host:port", addr) {
		return
	}
	c.check(host == "" || host == "0.0.0.0" || host == "::" || host == "[::]", where,
		"KANRI_HTTP %q listens on %s only: unreachable from outside the container", addr, host)
	if port > 0 {
		c.check(p == strconv.Itoa(port), where, "KANRI_HTTP %q does not listen on the declared port %d", addr, port)
	}
}

// kanriCommands are the subcommands a deployment may run.
var kanriCommands = map[string]bool{"server": true, "worker": true, "migrate": true, "dev": true}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func readFile(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s does not exist", path)
	}
	return data, err
}
