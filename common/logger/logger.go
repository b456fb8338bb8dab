// Package logger wraps op/go-logging in the project's line format:
//
//	level=INFO time=15:04:05.000 file=x.go:12 ▶ msg="slave joined" slave="10.0.0.2:40711"
//
// Each daemon owns its Logger (its own backend and level), so several daemons
// can run in one test process without sharing output or levels.
package logger

import (
	"fmt"
	"io"
	"strings"

	logging "github.com/op/go-logging"
)

const lineFormat = `level=%{level} time=%{time:15:04:05.000} file=%{shortfile} ▶ %{message}`

// Levels lists the accepted -log-level values, most verbose first.
var Levels = []string{"debug", "info", "notice", "warning", "error", "critical"}

// Logger writes key/value log lines at or above its level.
type Logger struct {
	l     *logging.Logger
	level logging.Level
}

// New returns a logger for module writing to w at the named level.
func New(module string, w io.Writer, level string) (*Logger, error) {
	lvl, err := logging.LogLevel(level)
	if err != nil {
		return nil, fmt.Errorf("log level %q: want one of %s", level, strings.Join(Levels, ", "))
	}
	backend := logging.AddModuleLevel(logging.NewBackendFormatter(
		logging.NewLogBackend(w, "", 0), logging.MustStringFormatter(lineFormat)))
	backend.SetLevel(lvl, "")
	l := logging.MustGetLogger(module)
	l.SetBackend(backend)
	// Skip this wrapper so file= names the caller.
	l.ExtraCalldepth = 1
	return &Logger{l: l, level: lvl}, nil
}

// Discard returns a logger that writes nothing.
func Discard() *Logger {
	l, _ := New("discard", io.Discard, "critical")
	return l
}

// The level checks come first so that a line below the level costs no
// formatting: some lines are logged per request.

// DebugEnabled and InfoEnabled say whether a line at that level is written.
// A line logged per task checks first: its key/value pairs are boxed into
// interfaces, on the heap, before any method can look at the level.
func (l *Logger) DebugEnabled() bool { return l.level >= logging.DEBUG }

// InfoEnabled: see DebugEnabled.
func (l *Logger) InfoEnabled() bool { return l.level >= logging.INFO }

// Debug logs msg with key/value pairs at DEBUG.
func (l *Logger) Debug(msg string, kv ...any) {
	if l.level >= logging.DEBUG {
		l.l.Debug(line(msg, kv))
	}
}

// Info logs msg with key/value pairs at INFO.
func (l *Logger) Info(msg string, kv ...any) {
	if l.level >= logging.INFO {
		l.l.Info(line(msg, kv))
	}
}

// Warning logs msg with key/value pairs at WARNING.
func (l *Logger) Warning(msg string, kv ...any) {
	if l.level >= logging.WARNING {
		l.l.Warning(line(msg, kv))
	}
}

// Error logs msg with key/value pairs at ERROR.
func (l *Logger) Error(msg string, kv ...any) {
	if l.level >= logging.ERROR {
		l.l.Error(line(msg, kv))
	}
}

// line renders msg="..." k="v" ...; values are quoted so that spaces and
// bytes from the network cannot forge extra fields.
func line(msg string, kv []any) string {
	var b strings.Builder
	b.WriteString("msg=")
	b.WriteString(quote(msg))
	for i := 0; i < len(kv); i += 2 {
		b.WriteByte(' ')
		b.WriteString(fmt.Sprint(kv[i]))
		b.WriteByte('=')
		if i+1 < len(kv) {
			b.WriteString(quote(fmt.Sprint(kv[i+1])))
		} else {
			b.WriteString(`"MISSING"`)
		}
	}
	return b.String()
}

func quote(s string) string {
	return fmt.Sprintf("%q", s)
}
