package app

import (
	"path/filepath"
	"testing"

	"github.com/kanri-itsm/kanri/policy"
)

// The configurations the README and the acceptance checks start Kanri with
// must stay valid.
func TestShippedConfigurationsAreValid(t *testing.T) {
	for _, path := range []string{"../examples/tour.yaml", "../../shared/acceptance/kanri.yaml"} {
		if _, err := policy.Load(path); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}

func TestSettlePrecedence(t *testing.T) {
	cfg := policy.Default()
	cfg.Server = policy.Server{DataDir: "/from/file", HTTP: "127.0.0.1:9999", TemporalPort: 7999, DatabaseURL: ""}

	o := Options{Mode: ModeDev, HTTPAddr: "127.0.0.1:1234"}
	o.Settle(cfg)
	if o.HTTPAddr != "127.0.0.1:1234" {
		t.Errorf("a flag must win over the file: http %q", o.HTTPAddr)
	}
	if o.DataDir != "/from/file" || o.TemporalPort != 7999 {
		t.Errorf("the file must fill unset flags: data dir %q, temporal port %d", o.DataDir, o.TemporalPort)
	}
	if want := filepath.Join("/from/file", "kanri.db"); o.DatabaseURL != want {
		t.Errorf("dev keeps its database in the data directory: %q, want %q", o.DatabaseURL, want)
	}

	o = Options{Mode: ModeWorker}
	o.Settle(policy.Default())
	if o.HTTPAddr != "127.0.0.1:8081" || o.TemporalAddress != "127.0.0.1:7233" || o.TaskQueue != "kanri" || o.DatabaseURL != "" {
		t.Errorf("worker defaults: %+v", o)
	}
}

// kanri dev keeps a small workflow cache unless told otherwise; a server
// or worker keeps the SDK's default, and any setting wins over both.
func TestWorkflowCacheDefaults(t *testing.T) {
	for _, tt := range []struct {
		mode       string
		flag, yaml int
		want       int
	}{
		{ModeDev, 0, 0, DevWorkflowCache},
		{ModeDev, 0, 900, 900},
		{ModeDev, 50, 900, 50},
		{ModeServer, 0, 0, 0},
		{ModeWorker, 0, 700, 700},
	} {
		cfg := policy.Default()
		cfg.Server.WorkflowCache = tt.yaml
		o := Options{Mode: tt.mode, WorkflowCache: tt.flag}
		o.Settle(cfg)
		if o.WorkflowCache != tt.want {
			t.Errorf("mode %s, flag %d, yaml %d: cache %d, want %d", tt.mode, tt.flag, tt.yaml, o.WorkflowCache, tt.want)
		}
	}
}
