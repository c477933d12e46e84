package engine

import (
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/server/common/config"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	sqliteschema "go.temporal.io/server/schema/sqlite"
)

// A port taken between picking it and the server binding it must come back
// as an error StartEmbedded retries on, never as a panic out of the server's
// Fatal log call (CI once failed this way under parallel test packages).
func TestStartOnTakenPortIsAnError(t *testing.T) {
	const host = "127.0.0.1"
	taken, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()

	sqlConf := &config.SQL{
		PluginName:        sqliteplugin.PluginName,
		DatabaseName:      filepath.Join(t.TempDir(), "temporal.db"),
		ConnectAttributes: map[string]string{"mode": "rwc", "journal_mode": "WAL"},
	}
	if err := sqliteschema.SetupSchema(sqlConf); err != nil {
		t.Fatal(err)
	}
	ports := make([]int, 8)
	for i := range ports {
		if ports[i], err = freePort(host); err != nil {
			t.Fatal(err)
		}
	}
	ports[3] = taken.Addr().(*net.TCPAddr).Port // the matching service's gRPC port
	frontend, err := freePort(host)
	if err != nil {
		t.Fatal(err)
	}
	opts := EmbeddedOptions{Namespace: "default", Port: frontend, Logger: slog.New(slog.DiscardHandler)}
	e, err := startOnPorts(opts, host, sqlConf, sqlConf, ports)
	if err == nil {
		e.Stop()
		t.Fatal("the server started on a taken port")
	}
	if !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("error %q does not say the address is in use, so StartEmbedded would not retry", err)
	}
}
