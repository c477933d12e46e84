package engine

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/kanri-itsm/kanri/activities"
	"github.com/kanri-itsm/kanri/workflows"
)

// ClientOptions says how to reach a Temporal frontend.
type ClientOptions struct {
	Address   string
	Namespace string
	// TLS: a CA file to trust, and a client certificate and key for mTLS.
	// TLS is on when any of them, or TLS, is set.
	TLS        bool
	CAFile     string
	CertFile   string
	KeyFile    string
	ServerName string
	Logger     *slog.Logger
	// MetricsHandler receives the SDK's metrics (worker task latencies,
	// schedule-to-start, requests); the workers made from the client
	// report through it too. Nil: none.
	MetricsHandler client.MetricsHandler
	// Interceptors are set on the client; those that are also worker
	// interceptors (tracing) apply to its workers.
	Interceptors []interceptor.ClientInterceptor
	// Uncompressed sends requests without gzip, for a frontend in the same
	// process: over loopback compressing every request and its answer was
	// 3 % of the CPU of `kanri bench approve`, for no saving.
	Uncompressed bool
}

// Dial connects to the frontend.
func Dial(o ClientOptions) (client.Client, error) {
	opts, err := clientOptions(o)
	if err != nil {
		return nil, err
	}
	c, err := client.Dial(opts)
	if err != nil {
		return nil, fmt.Errorf("engine: dial temporal at %s: %w", o.Address, err)
	}
	return c, nil
}

func clientOptions(o ClientOptions) (client.Options, error) {
	opts := client.Options{HostPort: o.Address, Namespace: o.Namespace,
		MetricsHandler: o.MetricsHandler, Interceptors: o.Interceptors}
	if o.Uncompressed {
		opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
	}
	if o.Logger != nil {
		opts.Logger = sdklog.NewStructuredLogger(o.Logger.With("component", "temporal-sdk"))
	}
	if o.TLS || o.CAFile != "" || o.CertFile != "" || o.KeyFile != "" || o.ServerName != "" {
		tc, err := tlsConfig(o)
		if err != nil {
			return opts, err
		}
		opts.ConnectionOptions.TLS = tc
	}
	return opts, nil
}

func tlsConfig(o ClientOptions) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.ServerName}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("engine: read temporal CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("engine: %s holds no PEM certificate", o.CAFile)
		}
		tc.RootCAs = pool
	}
	if o.CertFile != "" || o.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("engine: load temporal client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// WorkerOptions tunes a worker.
type WorkerOptions struct {
	TaskQueue string
	// MaxConcurrentWorkflowTasks and MaxConcurrentActivities: 0 keeps the SDK's defaults.
	MaxConcurrentWorkflowTasks int
	MaxConcurrentActivities    int
	// WorkflowPollers is how many long polls the worker keeps open for
	// workflow tasks (0: DefaultWorkflowPollers).
	WorkflowPollers int
	// WorkflowCache is how many workflow executions the process keeps in
	// memory between tasks (the SDK's sticky cache; 0: its default of
	// 10,000). An execution that falls out is replayed from its history
	// when it next has work: less memory per open case, more work per
	// task. The SDK keeps one cache per process, sized by the first worker
	// that starts.
	WorkflowCache int
}

// SizeWorkflowCache sets how many workflow executions the process keeps in
// memory between tasks (0 leaves the SDK's default). The SDK keeps one cache
// per process and sizes it when the first worker of the process starts,
// so this must come before any worker, the embedded server's included.
func SizeWorkflowCache(n int) {
	if n > 0 {
		worker.SetStickyWorkflowCacheSize(n)
	}
}

// DefaultWorkflowPollers is the workflow task pollers of a worker when none
// is set. The SDK's default of two could not keep up with 32 callers in
// `kanri bench`: a task that finds no poller waiting is written to the
// engine's task table and read back later, which doubled the p99 of the
// engine scenario and of intake. Sixteen took the engine scenario on two
// cores from 85 to 115 workflows a second and its p99 from 1.4 s to 0.46 s;
// more did not help.
const DefaultWorkflowPollers = 16

// NewWorker registers every workflow and activity of Kanri on a worker of the
// task queue. The caller starts and stops it.
func NewWorker(c client.Client, acts *activities.Activities, o WorkerOptions) worker.Worker {
	if o.TaskQueue == "" {
		o.TaskQueue = workflows.TaskQueue
	}
	SizeWorkflowCache(o.WorkflowCache)
	w := worker.New(c, o.TaskQueue, worker.Options{
		MaxConcurrentWorkflowTaskExecutionSize:  o.MaxConcurrentWorkflowTasks,
		MaxConcurrentWorkflowTaskPollers:        cmp.Or(o.WorkflowPollers, DefaultWorkflowPollers),
		MaxConcurrentActivityExecutionSize:      o.MaxConcurrentActivities,
		MaxConcurrentLocalActivityExecutionSize: o.MaxConcurrentActivities,
	})
	workflows.Register(w)
	w.RegisterActivity(acts)
	return w
}
