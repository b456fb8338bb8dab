//go:build unix

package runtimetune

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The helper process: it counts the images it ran in, calls Restart, and
// reports what the process ended up with.
const helperEnv = "RUNTIMETUNE_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "" {
		os.Exit(m.Run())
	}
	runs, _ := strconv.Atoi(os.Getenv(helperEnv))
	if runs > 3 {
		fmt.Println("error: re-executed", runs-1, "times")
		os.Exit(1)
	}
	os.Setenv(helperEnv, strconv.Itoa(runs+1)) // inherited by the next image, if any
	if err := Restart(); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Printf("pid=%d images=%d args=%q godebug=%s\n", os.Getpid(), runs, os.Args[1:], os.Getenv("GODEBUG"))
	os.Exit(0)
}

func TestRestart(t *testing.T) {
	for _, tc := range []struct {
		name, godebug string
		images        int
		want          string
	}{
		{"re-executes once with the setting", "madvdontneed=1", 2, "madvdontneed=1," + Setting},
		{"leaves the operator's schedtrace alone", "schedtrace=0", 1, "schedtrace=0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"-test.run=^$", "an argument", "-x"}
			cmd := exec.Command(os.Args[0], args...)
			cmd.Env = append(os.Environ(), helperEnv+"=1", "GODEBUG="+tc.godebug)
			cmd.Env = slices.DeleteFunc(cmd.Env, func(kv string) bool {
				return strings.HasPrefix(kv, "GODEBUG=") && kv != "GODEBUG="+tc.godebug
			})
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("helper: %v, output %q", err, out)
			}
			// Exec keeps the process: same PID, so a supervisor's PID stays right.
			want := fmt.Sprintf("pid=%d images=%d args=%q godebug=%s\n", cmd.Process.Pid, tc.images, args, tc.want)
			if string(out) != want {
				t.Errorf("helper printed %q, want %q", out, want)
			}
		})
	}
}
