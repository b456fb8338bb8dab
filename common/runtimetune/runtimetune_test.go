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

func TestEnv(t *testing.T) {
	for _, tc := range []struct {
		name    string
		environ []string
		want    []string
		changed bool
	}{
		{"no GODEBUG", []string{"PATH=/bin"}, []string{"PATH=/bin", "GODEBUG=" + Setting}, true},
		{"empty GODEBUG", []string{"GODEBUG=", "PATH=/bin"}, []string{"PATH=/bin", "GODEBUG=" + Setting}, true},
		{"other settings kept", []string{"GODEBUG=madvdontneed=1,gctrace=0"}, []string{"GODEBUG=madvdontneed=1,gctrace=0," + Setting}, true},
		{"the first GODEBUG is the one read", []string{"GODEBUG=gctrace=0", "X=1", "GODEBUG=schedtrace=5"}, []string{"X=1", "GODEBUG=gctrace=0," + Setting}, true},
		{"schedtrace=0 is the operator's", []string{"A=1", "GODEBUG=schedtrace=0"}, []string{"A=1", "GODEBUG=schedtrace=0"}, false},
		{"schedtrace among others", []string{"GODEBUG=gctrace=1,schedtrace=1000"}, []string{"GODEBUG=gctrace=1,schedtrace=1000"}, false},
		{"a look-alike is not schedtrace", []string{"GODEBUG=xschedtrace=1"}, []string{"GODEBUG=xschedtrace=1," + Setting}, true},
		{"a variable named like GODEBUG", []string{"GODEBUGX=schedtrace=0"}, []string{"GODEBUGX=schedtrace=0", "GODEBUG=" + Setting}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := Env(slices.Clone(tc.environ))
			if changed != tc.changed || !slices.Equal(got, tc.want) {
				t.Errorf("Env(%q) = %q, %v; want %q, %v", tc.environ, got, changed, tc.want, tc.changed)
			}
		})
	}
}

// The helper process: it counts the images it ran in, calls Restart, and
// reports what the process ended up with.
const helperEnv = "RUNTIMETUNE_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(echoEnv) != "" {
		runEcho()
	}
	if os.Getenv(helperEnv) == "" {
		os.Exit(m.Run())
	}
	runs, _ := strconv.Atoi(os.Getenv(helperEnv))
	os.Setenv(helperEnv, strconv.Itoa(runs+1)) // inherited by the next image, if any
	if err := Restart(); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Printf("pid=%d images=%d godebug=%s\n", os.Getpid(), runs, os.Getenv("GODEBUG"))
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
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"=1", "GODEBUG="+tc.godebug)
			cmd.Env = slices.DeleteFunc(cmd.Env, func(kv string) bool {
				return strings.HasPrefix(kv, "GODEBUG=") && kv != "GODEBUG="+tc.godebug
			})
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("helper: %v, output %q", err, out)
			}
			// Exec keeps the process: same PID, so a supervisor's PID stays right.
			want := fmt.Sprintf("pid=%d images=%d godebug=%s\n", cmd.Process.Pid, tc.images, tc.want)
			if string(out) != want {
				t.Errorf("helper printed %q, want %q", out, want)
			}
		})
	}
}
