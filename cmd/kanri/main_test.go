package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommandLine(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("sla:\n  targets:\n    P1: {response: 5h, resolution: 4h}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no command", nil, 2, "usage: kanri"},
		{"unknown command", []string{"deploy"}, 2, `unknown command "deploy"`},
		{"unknown flag", []string{"dev", "--colour"}, 2, "colour"},
		{"stray argument", []string{"migrate", "now"}, 2, `unexpected argument "now"`},
		{"bad log level", []string{"dev", "--log-level", "loud"}, 2, "--log-level"},
		{"missing config file", []string{"dev", "--config", "/no/such/kanri.yaml"}, 1, "/no/such/kanri.yaml"},
		{"invalid config names the key", []string{"dev", "--config", bad, "--data-dir", t.TempDir()}, 1, "sla.targets.P1.response"},
		{"server without a database", []string{"server"}, 1, "--database-url is required"},
		{"help", []string{"dev", "-h"}, 0, "-data-dir"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(c.args, &out, &errb); code != c.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, c.code, errb.String())
			}
			if !strings.Contains(errb.String(), c.stderr) {
				t.Fatalf("stderr does not say %q:\n%s", c.stderr, errb.String())
			}
		})
	}
}

func TestMigrateCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "kanri.db")
	var out, errb bytes.Buffer
	for range 2 { // a second run finds nothing to do
		if code := run([]string{"migrate", "--database-url", db}, &out, &errb); code != 0 {
			t.Fatalf("migrate: exit %d: %s", code, errb.String())
		}
	}
	if !strings.Contains(errb.String(), "migrations applied") {
		t.Fatalf("migrate said: %s", errb.String())
	}
}
