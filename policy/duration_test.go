package policy

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{"90m", 90 * time.Minute},
		{"4h", 4 * time.Hour},
		{"3s", 3 * time.Second},
		{"1h30m15s", time.Hour + 30*time.Minute + 15*time.Second},
		{"3d", 72 * time.Hour},
		{"1d", 24 * time.Hour},
		{"1d12h", 36 * time.Hour},
		{"2d30m", 48*time.Hour + 30*time.Minute},
		{"1.5d", 36 * time.Hour},
		{"0d", 0},
		{"-1d12h", -36 * time.Hour},
		{" 5d ", 120 * time.Hour},
		{"1d1ns", 24*time.Hour + time.Nanosecond},
		{"106751d23h", 106751*24*time.Hour + 23*time.Hour},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if err != nil {
			t.Errorf("ParseDuration(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseDurationErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty"},
		{"5", "needs a unit"},
		{"d", "days must be a number"},
		{"xd", "days must be a number"},
		{"1.2.3d", "days must be a number"},
		{"12h1d", "days must be a number"},
		{"1dd", "expected a number after d"},
		{"1d-3h", "expected a number after d"},
		{"3 days", "days must be a number"},
		{"abc", "no number"},
		{"1w", "not a Go duration"},
		{"200000d", "out of range"},
		{"106751d24h", "out of range"},
	}
	for _, tt := range tests {
		_, err := ParseDuration(tt.in)
		if err == nil {
			t.Errorf("ParseDuration(%q): no error", tt.in)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "invalid duration") {
			t.Errorf("ParseDuration(%q) = %q, want it to contain %q", tt.in, err, tt.want)
		}
	}
}

func TestDurationYAML(t *testing.T) {
	var v struct {
		A Duration `yaml:"a"`
		B Duration `yaml:"b"`
		C Duration `yaml:"c"`
	}
	if err := yaml.Unmarshal([]byte("a: 3d\nb: 1d12h\nc: 90m\n"), &v); err != nil {
		t.Fatal(err)
	}
	if v.A.D() != 72*time.Hour || v.B.D() != 36*time.Hour || v.C.D() != 90*time.Minute {
		t.Errorf("got %v %v %v", v.A, v.B, v.C)
	}

	for _, doc := range []string{"a: 3x\n", "a: [1h]\n", "a: {h: 1}\n", "a: 10\n"} {
		err := yaml.Unmarshal([]byte(doc), &v)
		if err == nil || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%q: got %v, want an error naming line 1", doc, err)
		}
	}

	out, err := yaml.Marshal(struct {
		A Duration `yaml:"a"`
	}{Duration(36 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		A Duration `yaml:"a"`
	}
	if err := yaml.Unmarshal(out, &back); err != nil || back.A.D() != 36*time.Hour {
		t.Errorf("round trip of %q: %v, %v", out, back.A, err)
	}
}
