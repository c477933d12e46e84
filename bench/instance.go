package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/kanri-itsm/kanri/app"
	"github.com/kanri-itsm/kanri/policy"
)

// benchToken is the bearer token the in-process Kanri's scenarios call the
// API with: alice's in the built-in configuration, an agent, who may open
// incidents and read every case.
const benchToken = "alice-dev-token"

// instance is a fresh Kanri running in this process on a temporary data
// directory.
type instance struct {
	app *app.App
	dir string
}

// start runs Kanri dev with cfg on a new temporary directory.
func (r *runner) start(ctx context.Context, cfg *policy.Config) (*instance, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("bench configuration: %w", err)
	}
	dir, err := os.MkdirTemp("", "kanri-bench-*")
	if err != nil {
		return nil, fmt.Errorf("create a data directory: %w", err)
	}
	a, err := app.Start(ctx, app.Options{
		Mode: app.ModeDev, Config: cfg, DataDir: dir,
		HTTPAddr: "127.0.0.1:0", TemporalPort: app.AnyTemporalPort, Logger: r.o.Logger, WorkflowCache: r.o.WorkflowCache,
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start kanri in %s: %w", dir, err)
	}
	return &instance{app: a, dir: dir}, nil
}

// close stops Kanri and removes its data directory.
func (in *instance) close() {
	in.app.Close()
	os.RemoveAll(in.dir)
}

func (in *instance) baseURL() string { return "http://" + in.app.Addr() }

// measure records the process's resident memory and the data directory's
// size on a result.
func (in *instance) measure(r *Result) {
	r.RSSBytes = residentBytes()
	r.DBBytes = in.footprint().DB
}

// footprint is the process's resident memory and the bytes of the data
// directory, split between the application database and the engine's.
func (in *instance) footprint() Footprint {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	f := Footprint{RSS: residentBytes(), Stacks: int64(ms.StackInuse), Heap: int64(ms.HeapInuse)}
	_ = filepath.WalkDir(in.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil // a file that went away while we walked weighs nothing
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		f.DB += info.Size()
		switch {
		case strings.HasPrefix(d.Name(), "kanri.db"):
			f.AppDB += info.Size()
		case strings.HasPrefix(d.Name(), "temporal"): // temporal.db, temporal-visibility.db
			f.EngineDB += info.Size()
		}
		return nil
	})
	return f
}

// settledFootprint waits for the engine to go idle, then returns the heap
// the Go runtime keeps to the operating system before measuring, so that
// resident memory counts what is live rather than garbage not yet
// collected.
func (r *runner) settledFootprint(ctx context.Context, in *instance) (Footprint, error) {
	select {
	case <-ctx.Done():
		return Footprint{}, ctx.Err()
	case <-time.After(r.o.Settle):
	}
	debug.FreeOSMemory()
	return in.footprint(), nil
}

// residentBytes is this process's resident set (VmRSS), or 0 where
// /proc/self/status does not exist.
func residentBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0
		}
		return kb << 10
	}
	return 0
}
