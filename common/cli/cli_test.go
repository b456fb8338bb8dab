package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

type flags struct {
	a, b string
	v    bool
	n    int
}

func newFlagSet() (*flag.FlagSet, *flags) {
	var f flags
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.a, "a", "", "")
	fs.StringVar(&f.b, "b", "", "")
	fs.BoolVar(&f.v, "v", false, "")
	fs.IntVar(&f.n, "n", 0, "")
	return fs, &f
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		args  []string
		want  []string
		flags flags
	}{
		{"flags around a positional", []string{"-a", "1", "pos", "-b", "2"}, []string{"pos"}, flags{a: "1", b: "2"}},
		{"no arguments", nil, nil, flags{}},
		{"empty arguments", []string{}, nil, flags{}},
		{"flags only", []string{"-a", "1", "-b", "2"}, nil, flags{a: "1", b: "2"}},
		{"positionals only", []string{"x", "y", "z"}, []string{"x", "y", "z"}, flags{}},
		{"positional first", []string{"least_load", "-a", "lo"}, []string{"least_load"}, flags{a: "lo"}},
		{"positional last", []string{"-a", "lo", "least_load"}, []string{"least_load"}, flags{a: "lo"}},
		{"interleaved", []string{"p1", "-a=1", "p2", "-v", "p3", "--n", "7", "p4"}, []string{"p1", "p2", "p3", "p4"}, flags{a: "1", v: true, n: 7}},
		{"later flag wins", []string{"-a", "1", "x", "-a", "2"}, []string{"x"}, flags{a: "2"}},
		{"bool flag then positional", []string{"-v", "x"}, []string{"x"}, flags{v: true}},
		{"dash is positional", []string{"-", "-a", "1"}, []string{"-"}, flags{a: "1"}},
		{"empty string is positional", []string{"", "-a", "1"}, []string{""}, flags{a: "1"}},
		{"double dash", []string{"-a", "1", "--", "-b"}, []string{"-b"}, flags{a: "1"}},
		{"flag value that looks like a flag", []string{"-a", "-b", "x"}, []string{"x"}, flags{a: "-b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs, f := newFlagSet()
			got, err := Parse(fs, tc.args)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.args, err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Parse(%q) = %q, want %q", tc.args, got, tc.want)
			}
			if *f != tc.flags {
				t.Errorf("Parse(%q) set %+v, want %+v", tc.args, *f, tc.flags)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		args     []string
		wantHelp bool
	}{
		{"unknown flag", []string{"-zzz"}, false},
		{"unknown flag after a positional", []string{"pos", "-zzz"}, false},
		{"missing value", []string{"pos", "-a"}, false},
		{"bad int", []string{"-n", "seven"}, false},
		{"bad bool", []string{"-v=maybe"}, false},
		{"-h", []string{"-h"}, true},
		{"-help", []string{"-help"}, true},
		{"--help", []string{"--help"}, true},
		{"-h after a positional", []string{"pos", "-h"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs, _ := newFlagSet()
			got, err := Parse(fs, tc.args)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want an error", tc.args, got)
			}
			if got != nil {
				t.Errorf("Parse returned %q with its error", got)
			}
			if isHelp := errors.Is(err, flag.ErrHelp); isHelp != tc.wantHelp {
				t.Errorf("errors.Is(%v, flag.ErrHelp) = %v, want %v", err, isHelp, tc.wantHelp)
			}
			// Run tells command-line errors (exit 2) from others by this type.
			var usage errUsage
			if !errors.As(err, &usage) {
				t.Errorf("error %v (%T) is not marked as a usage error", err, err)
			}
		})
	}
}

// TestParseDoubleDashKeepsLaterArgs: everything after "--" is positional.
func TestParseDoubleDashKeepsLaterArgs(t *testing.T) {
	t.Parallel()
	fs, f := newFlagSet()
	got, err := Parse(fs, []string{"--", "x", "-a", "1"})
	if err != nil || !slices.Equal(got, []string{"x", "-a", "1"}) || f.a != "" {
		t.Fatalf(`got %q, %v, -a=%q; want ["x" "-a" "1"] and -a unset`, got, err, f.a)
	}
}

// The Run tests re-execute the test binary: Run exits the process.
const runModeEnv = "CLI_TEST_RUN_MODE"

func TestMain(m *testing.M) {
	if mode := os.Getenv(runModeEnv); mode != "" {
		runHelper(mode)
		return
	}
	os.Exit(m.Run())
}

func runHelper(mode string) {
	Run("prog", func(ctx context.Context) error {
		if ctx.Err() != nil {
			return errors.New("context already done")
		}
		switch mode {
		case "ok":
			return nil
		case "help":
			fs, _ := newFlagSet()
			_, err := Parse(fs, []string{"-h"})
			return fmt.Errorf("wrapped: %w", err)
		case "version":
			fs, _ := newFlagSet()
			_, err := Parse(fs, []string{"pos", "-version", "-a", "1"})
			return fmt.Errorf("wrapped: %w", err)
		case "usage":
			fs, _ := newFlagSet()
			_, err := Parse(fs, []string{"-nope"})
			return fmt.Errorf("wrapped: %w", err)
		case "invalid":
			return fmt.Errorf("starting: %w", Usagef("-n must be positive, got %d", -1))
		default:
			return errors.New("it broke")
		}
	})
	os.Exit(99) // Run must not return
}

func TestRunExitCodes(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	for _, tc := range []struct {
		mode       string
		wantCode   int
		wantStderr string
		wantStdout string // a prefix
	}{
		{"ok", 0, "", ""},
		{"help", 0, "", ""},
		{"version", 0, "", "test "},
		{"usage", 2, "prog: wrapped: flag provided but not defined: -nope\n", ""},
		{"invalid", 2, "prog: starting: -n must be positive, got -1\n", ""},
		{"fail", 1, "prog: it broke\n", ""},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), runModeEnv+"="+tc.mode)
			var stderr, stdout strings.Builder
			cmd.Stderr, cmd.Stdout = &stderr, &stdout
			err := cmd.Run()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tc.wantCode, stderr.String())
			}
			if !strings.HasPrefix(stdout.String(), tc.wantStdout) || (tc.wantStdout != "") != strings.Contains(stdout.String(), " go1.") {
				t.Errorf("stdout %q, want it to start with %q and name the Go version only then", stdout.String(), tc.wantStdout)
			}
			if stderr.String() != tc.wantStderr {
				t.Errorf("stderr %q, want %q", stderr.String(), tc.wantStderr)
			}
		})
	}
}

// -secret wins over $LB_SECRET, which is the default.
func TestSecretFlagWinsOverEnvironment(t *testing.T) {
	t.Setenv("LB_SECRET", "from the environment")
	if got := Secret("from the flag"); got != "from the flag" {
		t.Fatalf("Secret with both set = %q, want the flag's", got)
	}
	if got := Secret(""); got != "from the environment" {
		t.Fatalf("Secret without the flag = %q, want $LB_SECRET", got)
	}
}
