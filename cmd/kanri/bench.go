package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/kanri-itsm/kanri/bench"
)

// benchArgs is what `kanri bench` was asked to do.
type benchArgs struct {
	scenario string
	json     bool
	cpu      string // where to write a CPU profile of the whole run
	level    slog.Level
	opts     bench.Options
}

// runBench is `kanri bench [scenario] [flags]`. It exits 2 when the request
// cannot run (a usage error, a scenario not built yet, an engine scenario
// against --url) and 1 when a scenario failed outright.
func runBench(args []string, stdout, stderr io.Writer) int {
	a, err := parseBenchFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "kanri bench: %v\n", err)
		return 2
	}
	// The in-process Kanri logs its warnings to stderr, so that the table
	// on stdout stays readable.
	a.opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: a.level}))
	a.opts.Progress = stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if a.cpu != "" {
		f, err := os.Create(a.cpu)
		if err != nil {
			fmt.Fprintf(stderr, "kanri bench: %v\n", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "kanri bench: start the CPU profile: %v\n", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	results, runErr := bench.Run(ctx, a.scenario, a.opts)
	if len(results) > 0 {
		if err := printResults(a.json, results, stdout, stderr); err != nil {
			fmt.Fprintf(stderr, "kanri bench: print the results: %v\n", err)
			return 1
		}
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "kanri bench: %v\n", runErr)
		if errors.Is(runErr, bench.ErrUnknownScenario) || errors.Is(runErr, bench.ErrNotBuilt) ||
			errors.Is(runErr, bench.ErrNeedsEngine) {
			return 2
		}
		return 1
	}
	return 0
}

// printResults writes the table for a person; with --json, stdout carries
// only the JSON, for a program, and the table goes to stderr.
func printResults(asJSON bool, results []bench.Result, stdout, stderr io.Writer) error {
	if !asJSON {
		return bench.WriteTable(stdout, results)
	}
	if err := bench.WriteTable(stderr, results); err != nil {
		return err
	}
	return bench.WriteJSON(stdout, results)
}

func parseBenchFlags(args []string, stderr io.Writer) (benchArgs, error) {
	var a benchArgs
	fs := flag.NewFlagSet("kanri bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: kanri bench [%s] [flags]\n\n"+
			"Runs each scenario on a fresh in-process Kanri in a temporary directory\n"+
			"(or, for intake and list, against a running Kanri with --url and --token)\n"+
			"and prints rate, latency percentiles, memory, database size and errors.\n\n",
			strings.Join(bench.Names(), "|"))
		fs.PrintDefaults()
	}
	fs.IntVar(&a.opts.N, "n", 0, "operations per scenario; for list, cases in the store (default: the scenario's, sized so that all runs in under ten minutes)")
	fs.IntVar(&a.opts.Concurrency, "concurrency", 0, "concurrent callers (default 32; 4 for list; for email, appenders: 1)")
	fs.BoolVar(&a.json, "json", false, "print JSON (milliseconds, bytes) on stdout; the table goes to stderr")
	fs.StringVar(&a.opts.URL, "url", "", "a running Kanri to drive instead of a fresh one (intake and list only)")
	fs.StringVar(&a.opts.Token, "token", "", "bearer token for --url; the user must be allowed to open and list incidents")
	fs.StringVar(&a.opts.Service, "service", "", "service the incidents name; it must be in the target's catalogue (default email)")
	level := fs.String("log-level", "warn", "log level of the in-process Kanri: debug, info, warn, error")
	dupEvery := fs.Int("duplicate-every", 10, "email: every Nth mail re-delivers the one before with the same Message-ID (0: none)")
	fs.StringVar(&a.opts.HeapProfile, "heap-profile", "", "density: write a heap profile to this file while the incidents are open")
	fs.DurationVar(&a.opts.TimerTarget, "timer-target", 0, "timers: the P1 response target, after each opening (default 10 ms per incident, at least 20s: the openings end before the first timer is due)")
	fs.StringVar(&a.cpu, "cpu-profile", "", "write a CPU profile of the whole run, engine and Kanri, to this file")
	fs.IntVar(&a.opts.WorkflowCache, "workflow-cache", 0, "workflow executions the fresh instance keeps in memory between tasks (0: kanri dev's default, 256)")

	// The environment fills what the command line leaves unset, as for the
	// other commands (KANRI_URL, KANRI_TOKEN keep the token out of ps).
	fs.VisitAll(func(f *flag.Flag) {
		env := "KANRI_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && v != "" {
			_ = f.Value.Set(v)
		}
	})
	// The scenario may come before the flags (kanri bench intake --n 500)
	// or after them; the flag package stops at the first argument.
	a.scenario = bench.All
	named := len(args) > 0 && !strings.HasPrefix(args[0], "-")
	if named {
		a.scenario, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return a, err
	}
	rest := fs.Args()
	if !named && len(rest) > 0 {
		a.scenario, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 {
		return a, fmt.Errorf("unexpected argument %q", rest[0])
	}
	if err := a.level.UnmarshalText([]byte(*level)); err != nil {
		return a, fmt.Errorf("--log-level: %w", err)
	}
	if a.opts.N < 0 || a.opts.Concurrency < 0 || *dupEvery < 0 || a.opts.WorkflowCache < 0 {
		return a, errors.New("--n, --concurrency, --duplicate-every and --workflow-cache must not be negative")
	}
	a.opts.DuplicateEvery = *dupEvery
	if *dupEvery == 0 {
		a.opts.DuplicateEvery = -1 // bench.Options: 0 is the default, negative none
	}
	if a.opts.URL != "" && a.opts.Token == "" {
		return a, errors.New("--url needs --token (or KANRI_TOKEN)")
	}
	return a, nil
}
