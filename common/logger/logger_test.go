package logger_test

import (
	"bytes"
	"fmt"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/lbproject/loadbalancer/common/logger"
)

// lineRE matches one whole log line and captures level, file, line and the
// key/value part.
var lineRE = regexp.MustCompile(`^level=([A-Z]+) time=\d{2}:\d{2}:\d{2}\.\d{3} file=([^ :]+):(\d+) ▶ (msg=.*)$`)

func newLogger(t *testing.T, level string) (*logger.Logger, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	l, err := logger.New("test", &buf, level)
	if err != nil {
		t.Fatalf("New(%q): %v", level, err)
	}
	return l, &buf
}

// here returns the line it is called from.
func here() int {
	_, _, line, _ := runtime.Caller(1)
	return line
}

type parsed struct {
	level, file string
	line        int
	rest        string
}

func parseLines(t *testing.T, out string) []parsed {
	t.Helper()
	if out == "" {
		return nil
	}
	if !strings.HasSuffix(out, "\n") {
		t.Fatalf("output does not end in a newline: %q", out)
	}
	var ps []parsed
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		m := lineRE.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("line %q does not have the project's shape", l)
		}
		n, _ := strconv.Atoi(m[3])
		ps = append(ps, parsed{m[1], m[2], n, m[4]})
	}
	return ps
}

func TestLineShape(t *testing.T) {
	t.Parallel()
	l, buf := newLogger(t, "debug")
	line := here() + 1
	l.Info("hello", "k", "v")
	out := buf.String()
	want := regexp.MustCompile(`^level=INFO time=\d{2}:\d{2}:\d{2}\.\d{3} file=logger_test\.go:` + strconv.Itoa(line) + ` ▶ msg="hello" k="v"\n$`)
	if !want.MatchString(out) {
		t.Fatalf("line %q does not match %s", out, want)
	}
}

// TestLevelsAndCaller: each method logs at its level, and file= names this
// file and the line of the call, not the logger package.
func TestLevelsAndCaller(t *testing.T) {
	t.Parallel()
	l, buf := newLogger(t, "debug")
	var lines []int
	lines = append(lines, here()+1)
	l.Debug("d")
	lines = append(lines, here()+1)
	l.Info("i")
	lines = append(lines, here()+1)
	l.Warning("w")
	lines = append(lines, here()+1)
	l.Error("e")
	ps := parseLines(t, buf.String())
	wantLevels := []string{"DEBUG", "INFO", "WARNING", "ERROR"}
	if len(ps) != len(wantLevels) {
		t.Fatalf("%d lines, want %d:\n%s", len(ps), len(wantLevels), buf)
	}
	for i, p := range ps {
		if p.level != wantLevels[i] {
			t.Errorf("line %d: level %s, want %s", i, p.level, wantLevels[i])
		}
		if p.file != "logger_test.go" || p.line != lines[i] {
			t.Errorf("line %d: file=%s:%d, want logger_test.go:%d", i, p.file, p.line, lines[i])
		}
		if want := fmt.Sprintf("msg=%q", strings.ToLower(wantLevels[i][:1])); p.rest != want {
			t.Errorf("line %d: %q, want %q", i, p.rest, want)
		}
	}
}

func TestKeyValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		msg  string
		kv   []any
		want string
	}{
		{"no pairs", "hello", nil, `msg="hello"`},
		{"one pair", "hello", []any{"k", "v"}, `msg="hello" k="v"`},
		{"spaces quoted", "slave joined", []any{"slave", "10.0.0.2:40711", "reason", "too busy now"}, `msg="slave joined" slave="10.0.0.2:40711" reason="too busy now"`},
		{"quotes escaped", `say "hi"`, []any{"k", `a"b`}, `msg="say \"hi\"" k="a\"b"`},
		{"forged field stays inside the quotes", "m", []any{"k", `v" admin="yes`}, `msg="m" k="v\" admin=\"yes"`},
		{"newline cannot start a line", "a\nlevel=ERROR", []any{"k", "x\ny"}, `msg="a\nlevel=ERROR" k="x\ny"`},
		{"non-strings", "m", []any{"n", 42, "f", 1.5, "b", true, "err", fmt.Errorf("boom")}, `msg="m" n="42" f="1.5" b="true" err="boom"`},
		{"nil value", "m", []any{"k", nil}, `msg="m" k="<nil>"`},
		{"empty strings", "", []any{"k", ""}, `msg="" k=""`},
		{"odd kv", "m", []any{"k"}, `msg="m" k="MISSING"`},
		{"odd kv after a pair", "m", []any{"a", 1, "b"}, `msg="m" a="1" b="MISSING"`},
		{"non-string key", "m", []any{7, "v"}, `msg="m" 7="v"`},
		{"invalid utf8", "m", []any{"k", "\xff"}, `msg="m" k="\xff"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, buf := newLogger(t, "info")
			l.Info(tc.msg, tc.kv...)
			ps := parseLines(t, buf.String())
			if len(ps) != 1 {
				t.Fatalf("%d lines, want 1: %q", len(ps), buf)
			}
			if ps[0].rest != tc.want {
				t.Fatalf("got  %s\nwant %s", ps[0].rest, tc.want)
			}
		})
	}
}

func TestLevelFiltering(t *testing.T) {
	t.Parallel()
	all := []string{"DEBUG", "INFO", "WARNING", "ERROR"}
	for _, tc := range []struct {
		level string
		want  []string
	}{
		{"debug", all},
		{"info", all[1:]},
		{"notice", all[2:]},
		{"warning", all[2:]},
		{"WARNING", all[2:]},
		{"Warning", all[2:]},
		{"error", all[3:]},
		{"critical", nil},
	} {
		t.Run(tc.level, func(t *testing.T) {
			t.Parallel()
			l, buf := newLogger(t, tc.level)
			l.Debug("m")
			l.Info("m")
			l.Warning("m")
			l.Error("m")
			var got []string
			for _, p := range parseLines(t, buf.String()) {
				got = append(got, p.level)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("at %s logged %v, want %v", tc.level, got, tc.want)
			}
			wrote := strings.Join(got, ",")
			if l.DebugEnabled() != strings.Contains(wrote, "DEBUG") || l.InfoEnabled() != strings.Contains(wrote, "INFO") {
				t.Fatalf("at %s DebugEnabled %v, InfoEnabled %v, but it logged %v", tc.level, l.DebugEnabled(), l.InfoEnabled(), got)
			}
		})
	}
}

func TestEveryListedLevelIsAccepted(t *testing.T) {
	t.Parallel()
	for _, level := range logger.Levels {
		if _, err := logger.New("test", &bytes.Buffer{}, level); err != nil {
			t.Errorf("New(%q): %v", level, err)
		}
	}
}

func TestBadLevel(t *testing.T) {
	t.Parallel()
	for _, level := range []string{"", "verbose", "warn", "trace", "info "} {
		t.Run(level, func(t *testing.T) {
			t.Parallel()
			l, err := logger.New("test", &bytes.Buffer{}, level)
			if err == nil {
				t.Fatalf("New(%q) accepted the level", level)
			}
			if l != nil {
				t.Errorf("New returned a logger with its error")
			}
			msg := err.Error()
			if !strings.Contains(msg, strconv.Quote(level)) {
				t.Errorf("error %q does not quote the bad level", msg)
			}
			for _, valid := range logger.Levels {
				if !strings.Contains(msg, valid) {
					t.Errorf("error %q does not list %q", msg, valid)
				}
			}
		})
	}
}

// TestLoggersAreIndependent: two loggers (even with the same module name)
// write only to their own writer, each at its own level.
func TestLoggersAreIndependent(t *testing.T) {
	t.Parallel()
	var a, b bytes.Buffer
	la, err := logger.New("same", &a, "debug")
	if err != nil {
		t.Fatal(err)
	}
	lb, err := logger.New("same", &b, "error")
	if err != nil {
		t.Fatal(err)
	}
	la.Debug("to a", "n", 1)
	lb.Error("to b", "n", 2)
	la.Info("to a", "n", 3)
	lb.Info("dropped by b")
	pa, pb := parseLines(t, a.String()), parseLines(t, b.String())
	if len(pa) != 2 || pa[0].rest != `msg="to a" n="1"` || pa[1].rest != `msg="to a" n="3"` {
		t.Errorf("logger a wrote:\n%s", a.String())
	}
	if len(pb) != 1 || pb[0].rest != `msg="to b" n="2"` {
		t.Errorf("logger b wrote:\n%s", b.String())
	}
}

func TestDiscard(t *testing.T) {
	t.Parallel()
	l := logger.Discard()
	if l == nil {
		t.Fatal("Discard() = nil")
	}
	l.Debug("x", "k", "v")
	l.Info("x")
	l.Warning("x", "odd")
	l.Error("x", "k", "v")
}

// TestConcurrentLogging: lines logged from many goroutines come out whole.
func TestConcurrentLogging(t *testing.T) {
	t.Parallel()
	l, buf := newLogger(t, "debug")
	const goroutines, perGoroutine = 8, 50
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				l.Info("tick", "g", g, "i", i, "pad", strings.Repeat("x", 100))
			}
		})
	}
	wg.Wait()
	ps := parseLines(t, buf.String())
	if len(ps) != goroutines*perGoroutine {
		t.Fatalf("%d lines, want %d", len(ps), goroutines*perGoroutine)
	}
	seen := map[string]bool{}
	for _, p := range ps {
		if p.file != "logger_test.go" || seen[p.rest] {
			t.Fatalf("bad or repeated line %+v", p)
		}
		seen[p.rest] = true
	}
}
