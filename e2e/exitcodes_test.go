package e2e

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Every command-line mistake exits 2 with a one-line reason, before the
// daemon opens a socket (so these runs send nothing anywhere).
func TestCommandLineMistakesExit2(t *testing.T) {
	t.Parallel()
	bin := buildBinaries(t)
	buildExtra(t, bin, "./cmd/monitoring")
	tests := []struct {
		name string
		cmd  string
		args []string
		env  []string
		want string // in the one line of stderr
	}{
		{"unknown algorithm", "master", []string{"fastest"}, nil, `unknown algorithm "fastest"`},
		{"two algorithms", "master", []string{"least_load", "round_robin"}, nil, "one algorithm at most"},
		{"bad flag value", "master", []string{"-max-slaves", "0"}, nil, "max slaves must be at least 1"},
		{"bad duration", "master", []string{"-poll-timeout", "0s"}, nil, "poll interval and timeout must be positive"},
		{"malformed flag value", "master", []string{"-max-slaves", "many"}, nil, `invalid value "many" for flag -max-slaves`},
		{"unknown flag", "slave", []string{"-turbo"}, nil, "flag provided but not defined: -turbo"},
		{"bad log level", "master", []string{"-log-level", "loud"}, nil, "loud"},
		{"bad procs", "master", []string{"-procs", "0"}, nil, "-procs must be at least 1"},
		{"unknown load metric", "slave", []string{"-load-metric", "vibes"}, nil, `unknown load metric "vibes"`},
		{"zero max load", "slave", []string{"-max-load", "0"}, nil, "max load must be positive"},
		{"negative workers", "slave", []string{"-workers", "-1"}, nil, "workers must not be negative"},
		{"extra argument", "slave", []string{"please"}, nil, "unexpected arguments"},
		{"missing Grafana key", "monitoring", nil, []string{"GRAFANA_KEY="}, "missing the Grafana key"},
		{"two Grafana keys", "monitoring", []string{"a", "b"}, nil, "one Grafana key at most"},
		{"bad Grafana URL", "monitoring", []string{"-grafana", "ftp://x", "key"}, nil, "want http:// or https://"},
		{"bad interval", "monitoring", []string{"-interval", "1h", "key"}, nil, "interval must be between"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(filepath.Join(bin, tt.cmd), tt.args...)
			cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, tt.env...)
			cmd.WaitDelay = 5 * time.Second
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Fatalf("%s %q: %v, want exit status 2; output:\n%s", tt.cmd, tt.args, err, out)
			}
			lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], tt.cmd+": ") || !strings.Contains(lines[0], tt.want) {
				t.Fatalf("%s %q printed %q, want one line %q... naming %q", tt.cmd, tt.args, out, tt.cmd+": ", tt.want)
			}
		})
	}
}
