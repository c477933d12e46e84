package policy

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestIncidentPolicy(t *testing.T) {
	business := Default()
	business.SLA.Calendar = tokyoHours()
	business.SLA.Calendar.Holidays = []string{"2026-12-31"}
	business.Escalation.TopManagementAfter = Duration(2 * time.Hour)
	noManagers := Default()
	for i := range noManagers.Groups {
		noManagers.Groups[i].Manager = ""
	}
	acceptance, err := Load("testdata/acceptance.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  *Config
	}{
		{"default", Default()},
		{"business hours", business},
		{"no managers", noManagers},
		{"acceptance", acceptance},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.cfg.IncidentPolicy()
			roundTrip(t, p)
			if p.Targets["P1"] != (TargetTimes{tt.cfg.SLA.Targets["P1"].Response.D(), tt.cfg.SLA.Targets["P1"].Resolution.D()}) {
				t.Errorf("P1 targets = %+v", p.Targets["P1"])
			}
			if p.Warning != tt.cfg.SLA.Warning || p.AutoCloseAfter != tt.cfg.AutoCloseAfter.D() ||
				p.TopManagementAfter != tt.cfg.Escalation.TopManagementAfter.D() {
				t.Errorf("policy = %+v", p)
			}
			if !reflect.DeepEqual(p.Functional, tt.cfg.Escalation.Functional) || !reflect.DeepEqual(p.TopManagement, tt.cfg.TopManagement) {
				t.Errorf("functional %v, top management %v", p.Functional, p.TopManagement)
			}
		})
	}

	c := Default()
	p := c.IncidentPolicy()
	if want := map[string]string{"service-desk": "mona", "second-line": "mona", "third-line": "mona", "cab": "tess", "ecab": "tess", "managers": "tess"}; !reflect.DeepEqual(p.Managers, want) {
		t.Errorf("managers = %v", p.Managers)
	}
	if got, _ := p.Matrix.Priority("high", "medium"); got != "P2" {
		t.Errorf("matrix high/medium = %q", got)
	}
	// The policy is a copy: a running case must not see later edits.
	p.Matrix["high"]["high"] = "P4"
	p.Functional[0] = "x"
	p.TopManagement[0] = "x"
	if c.PriorityMatrix["high"]["high"] != "P1" || c.Escalation.Functional[0] != "service-desk" || c.TopManagement[0] != "tess" {
		t.Error("IncidentPolicy shares memory with the Config")
	}
}

func TestRequestPolicy(t *testing.T) {
	c := Default()
	c.SLA.Calendar = tokyoHours()
	for _, it := range c.RequestCatalogue {
		t.Run(it.ID, func(t *testing.T) {
			p, err := c.RequestPolicy(it.ID)
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, p)
			if p.Item.ID != it.ID || p.Item.Name != it.Name || p.Item.Group != it.Group {
				t.Errorf("item = %+v", p.Item)
			}
			if p.Targets != (TargetTimes{it.Response.D(), it.Resolution.D()}) || p.Warning != 0.75 ||
				p.AutoCloseAfter != 72*time.Hour || !reflect.DeepEqual(p.Calendar, tokyoHours()) || p.Managers["service-desk"] != "mona" {
				t.Errorf("policy = %+v", p)
			}
			if (p.Item.Approval == nil) != (it.Approval == nil) || it.Approval != nil && *p.Item.Approval != *it.Approval {
				t.Errorf("approval = %+v, want %+v", p.Item.Approval, it.Approval)
			}
			if p.Item.Approval != nil && p.Item.Approval == it.Approval {
				t.Error("approval shares memory with the Config")
			}
		})
	}
}

func roundTrip[T any](t *testing.T, v T) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var back T
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, v) {
		t.Errorf("JSON round trip changed the value:\n got %+v\nwant %+v\njson %s", back, v, b)
	}
}
