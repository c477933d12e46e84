package engine

import (
	"bytes"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// Tags given to With reach the line, in order, and two loggers made from one
// parent do not see each other's tags.
func TestServerLoggerWithKeepsTagsApart(t *testing.T) {
	var buf bytes.Buffer
	root := newServerLogger(slog.New(slog.NewTextHandler(&buf, nil)), new(atomic.Bool))
	parent := log.With(root, tag.NewStringTag("shard", "1"))
	a := log.With(parent, tag.NewStringTag("wf", "INC-1"))
	b := log.With(parent, tag.NewStringTag("wf", "INC-2"))
	a.Warn("first", tag.NewStringTag("n", "a"))
	b.Error("second")
	parent.Info("not written: info is dropped")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), buf.String())
	}
	for i, want := range []string{"component=temporal shard=1 wf=INC-1 n=a", "component=temporal shard=1 wf=INC-2"} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %q, want it to contain %q", i, lines[i], want)
		}
	}
	if strings.Contains(lines[1], "INC-1") {
		t.Errorf("the second child logged the first's tag: %q", lines[1])
	}
}

// What Fatal panics with names the tags of the logger and of the call.
func TestServerLoggerFatalNamesTags(t *testing.T) {
	l := log.With(newServerLogger(slog.New(slog.DiscardHandler), new(atomic.Bool)), tag.NewStringTag("service", "matching"))
	defer func() {
		fe, ok := recover().(fatalError)
		if !ok || !strings.Contains(fe.Error(), "service=matching") || !strings.Contains(fe.Error(), "port=7235") {
			t.Errorf("panic %v, want a fatalError naming service and port", fe)
		}
	}()
	l.Fatal("listen", tag.NewStringTag("port", "7235"))
}
