package policy

import (
	"strings"
	"testing"
)

func TestMatrixPriority(t *testing.T) {
	m := defaultMatrix()
	tests := []struct{ impact, urgency, want string }{
		{"high", "high", "P1"},
		{"high", "medium", "P2"},
		{"high", "low", "P3"},
		{"medium", "high", "P2"},
		{"medium", "medium", "P3"},
		{"medium", "low", "P4"},
		{"low", "high", "P3"},
		{"low", "medium", "P4"},
		{"low", "low", "P4"},
	}
	for _, tt := range tests {
		got, err := m.Priority(tt.impact, tt.urgency)
		if err != nil || got != tt.want {
			t.Errorf("Priority(%s, %s) = %q, %v; want %q", tt.impact, tt.urgency, got, err, tt.want)
		}
	}
}

func TestMatrixPriorityErrors(t *testing.T) {
	tests := []struct {
		m               Matrix
		impact, urgency string
		want            string
	}{
		{defaultMatrix(), "extreme", "high", `impact "extreme" is not one of high, medium, low`},
		{defaultMatrix(), "high", "urgent", `urgency "urgent" is not one of high, medium, low`},
		{defaultMatrix(), "", "", `impact "" is not one of high, medium, low`},
		{defaultMatrix(), "High", "high", `impact "High" is not one of high, medium, low`},
		{Matrix{"high": {"high": "P1"}}, "high", "low", `no priority for impact "high" and urgency "low"`},
		{nil, "low", "low", `no priority for impact "low" and urgency "low"`},
	}
	for _, tt := range tests {
		got, err := tt.m.Priority(tt.impact, tt.urgency)
		// The first messages are exact: the API returns them as the 422 detail.
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.HasPrefix(tt.want, "impact") && err.Error() != tt.want {
			t.Errorf("Priority(%q, %q) = %q, %v; want error %q", tt.impact, tt.urgency, got, err, tt.want)
		}
	}
}

func TestLevelsIsAFreshSlice(t *testing.T) {
	a := Levels()
	a[0] = "changed"
	if b := Levels(); b[0] != "high" || len(b) != 3 {
		t.Fatalf("Levels() = %v after a caller changed its copy", b)
	}
}
