package policy

// Server holds what the `kanri dev`, `kanri server` and `kanri worker`
// flags also set; an empty field leaves the flag's default. Each key is the
// flag's name with _ for -, and a flag or its KANRI_ environment variable
// wins over the key (README: Production settings).
type Server struct {
	DataDir           string `yaml:"data_dir" json:"data_dir,omitempty"`
	HTTP              string `yaml:"http" json:"http,omitempty"`
	TemporalPort      int    `yaml:"temporal_port" json:"temporal_port,omitempty"`
	TemporalAddress   string `yaml:"temporal_address" json:"temporal_address,omitempty"`
	TemporalNamespace string `yaml:"temporal_namespace" json:"temporal_namespace,omitempty"`
	DatabaseURL       string `yaml:"database_url" json:"database_url,omitempty"`
	TaskQueue         string `yaml:"task_queue" json:"task_queue,omitempty"`
	MaxBodyBytes      int64  `yaml:"max_body_bytes" json:"max_body_bytes,omitempty"`

	// TLS to the Temporal frontend; a client certificate and key make it
	// mTLS. Paths of PEM files.
	TemporalTLS           bool   `yaml:"temporal_tls" json:"temporal_tls,omitempty"`
	TemporalTLSCA         string `yaml:"temporal_tls_ca" json:"temporal_tls_ca,omitempty"`
	TemporalTLSCert       string `yaml:"temporal_tls_cert" json:"temporal_tls_cert,omitempty"`
	TemporalTLSKey        string `yaml:"temporal_tls_key" json:"temporal_tls_key,omitempty"`
	TemporalTLSServerName string `yaml:"temporal_tls_server_name" json:"temporal_tls_server_name,omitempty"`

	// Worker concurrency and the sticky workflow cache (0: the SDK's
	// defaults).
	WorkflowTasks int `yaml:"workflow_tasks" json:"workflow_tasks,omitempty"`
	Activities    int `yaml:"activities" json:"activities,omitempty"`
	WorkflowCache int `yaml:"workflow_cache" json:"workflow_cache,omitempty"`
	// Long polls each worker keeps open for workflow tasks (0: Kanri's
	// default, engine.DefaultWorkflowPollers).
	WorkflowPollers int `yaml:"workflow_pollers" json:"workflow_pollers,omitempty"`

	// The PostgreSQL connection pool of each process (SQLite keeps its
	// own: one writer, a few readers).
	DBMaxOpenConns    int      `yaml:"db_max_open_conns" json:"db_max_open_conns,omitempty"`
	DBMaxIdleConns    int      `yaml:"db_max_idle_conns" json:"db_max_idle_conns,omitempty"`
	DBConnMaxLifetime Duration `yaml:"db_conn_max_lifetime" json:"db_conn_max_lifetime,omitempty"`
	DBConnMaxIdleTime Duration `yaml:"db_conn_max_idle_time" json:"db_conn_max_idle_time,omitempty"`

	// OpenTelemetry tracing: the OTLP receiver and its protocol (grpc or
	// http/protobuf). No endpoint: no tracing.
	OTLPEndpoint string `yaml:"otlp_endpoint" json:"otlp_endpoint,omitempty"`
	OTLPProtocol string `yaml:"otlp_protocol" json:"otlp_protocol,omitempty"`
}
