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
