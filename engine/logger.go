package engine

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// serverLogger adapts the Temporal server's logger interface to slog. The
// embedded server is chatty at info level, so it logs its warnings and errors
// only; its own info lines say nothing a Kanri operator acts on.
//
// While the server stops, its own workers and clients warn about every poll
// and dial the shutdown cuts short; stopping silences them.
//
// With only keeps the tags: the server calls it for every task it runs,
// and turning the tags into slog attributes there (which the text handler
// formats at once) was 1.4 % of the CPU of `kanri bench timers`, for lines
// that are almost never written.
type serverLogger struct {
	l        *slog.Logger
	stopping *atomic.Bool
	tags     []tag.Tag
}

func newServerLogger(l *slog.Logger, stopping *atomic.Bool) log.Logger {
	return serverLogger{l: l.With("component", "temporal"), stopping: stopping}
}

func (s serverLogger) log(level slog.Level, msg string, tags []tag.Tag) {
	if s.stopping.Load() || !s.l.Enabled(context.Background(), level) {
		return
	}
	all := s.with(tags)
	attrs := make([]any, 0, 2*len(all))
	for _, t := range all {
		attrs = append(attrs, t.Key(), t.Value())
	}
	s.l.Log(context.Background(), level, msg, attrs...)
}

func (s serverLogger) Debug(string, ...tag.Tag)           {}
func (s serverLogger) Info(string, ...tag.Tag)            {}
func (s serverLogger) Warn(msg string, tags ...tag.Tag)   { s.log(slog.LevelWarn, msg, tags) }
func (s serverLogger) Error(msg string, tags ...tag.Tag)  { s.log(slog.LevelError, msg, tags) }
func (s serverLogger) DPanic(msg string, tags ...tag.Tag) { s.log(slog.LevelError, msg, tags) }
func (s serverLogger) Panic(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
	panic(newFatalError(msg, s.with(tags)))
}

// Fatal panics rather than exiting: the server calls it while it is built,
// for instance when a port it was given is taken meanwhile, and startOnPorts
// recovers the panic into an error it can retry.
func (s serverLogger) Fatal(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
	panic(newFatalError(msg, s.with(tags)))
}

// With returns a logger with more tags.
func (s serverLogger) With(tags ...tag.Tag) log.Logger {
	return serverLogger{l: s.l, stopping: s.stopping, tags: s.with(tags)}
}

// with is the logger's tags followed by more; the three-index slice makes
// the append copy, so that two children of one logger never share tags.
func (s serverLogger) with(tags []tag.Tag) []tag.Tag {
	return append(s.tags[:len(s.tags):len(s.tags)], tags...)
}

// fatalError is what the server's Fatal and Panic calls panic with: the
// message with the values of its tags, among them the underlying error.
type fatalError struct{ msg string }

func newFatalError(msg string, tags []tag.Tag) fatalError {
	var b strings.Builder
	b.WriteString(msg)
	for _, t := range tags {
		fmt.Fprintf(&b, " %s=%v", t.Key(), t.Value())
	}
	return fatalError{msg: b.String()}
}

func (e fatalError) Error() string { return e.msg }
