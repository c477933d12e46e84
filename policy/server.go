package policy

// Server holds what the `kanri dev` and `kanri server` flags also set; an
// empty field leaves the flag's default.
type Server struct {
	DataDir           string `yaml:"data_dir" json:"data_dir,omitempty"`
	HTTP              string `yaml:"http" json:"http,omitempty"`
	TemporalPort      int    `yaml:"temporal_port" json:"temporal_port,omitempty"`
	TemporalAddress   string `yaml:"temporal_address" json:"temporal_address,omitempty"`
	TemporalNamespace string `yaml:"temporal_namespace" json:"temporal_namespace,omitempty"`
	DatabaseURL       string `yaml:"database_url" json:"database_url,omitempty"`
	TaskQueue         string `yaml:"task_queue" json:"task_queue,omitempty"`
	MaxBodyBytes      int64  `yaml:"max_body_bytes" json:"max_body_bytes,omitempty"`
}
