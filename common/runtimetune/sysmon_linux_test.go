package runtimetune

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// echoEnv makes the test binary an echo server on loopback, which prints its
// address and answers every byte with that byte.
const echoEnv = "RUNTIMETUNE_TEST_ECHO"

func init() {
	if os.Getenv(echoEnv) != "" {
		runEcho()
	}
}

func runEcho() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.Exit(1)
	}
	os.Stdout.WriteString(ln.Addr().String() + "\n")
	c, err := ln.Accept()
	if err != nil {
		os.Exit(1)
	}
	var b [1]byte
	for {
		if _, err := c.Read(b[:]); err != nil {
			os.Exit(0)
		}
		if _, err := c.Write(b[:]); err != nil {
			os.Exit(0)
		}
	}
}

// What Setting is for, checked against the Go runtime in use: a process that
// idles between requests wakes its sysmon thread for each one under the
// runtime's defaults, and under Setting only on sysmon's 10 ms tick. A Go
// release that drops the side effect Setting relies on fails here.
func TestSysmonStaysAwakeUnderSetting(t *testing.T) {
	const requests = 1000
	for _, tc := range []struct {
		godebug string
		tuned   bool
	}{
		{"schedtrace=0", false},
		{Setting, true},
	} {
		t.Run(tc.godebug, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool {
				return strings.HasPrefix(kv, "GODEBUG=") || strings.HasPrefix(kv, "GOMAXPROCS=")
			}), echoEnv+"=1", "GODEBUG="+tc.godebug, "GOMAXPROCS=1")
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			addr, err := bufio.NewReader(out).ReadString('\n')
			if err != nil {
				t.Fatalf("reading the echo server's address: %v", err)
			}
			c, err := net.Dial("tcp", strings.TrimSpace(addr))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			sysmon := sysmonThread(t, cmd.Process.Pid)
			before, start := switches(t, sysmon), time.Now()
			var b [1]byte
			for range requests {
				time.Sleep(200 * time.Microsecond) // the server idles between requests
				if _, err := c.Write(b[:]); err != nil {
					t.Fatal(err)
				}
				if _, err := c.Read(b[:]); err != nil {
					t.Fatal(err)
				}
			}
			n, took := switches(t, sysmon)-before, time.Since(start)
			t.Logf("sysmon switched %d times over %d requests in %s", n, requests, took.Round(time.Millisecond))
			// Several per tick leaves room for a busy machine; the default
			// pays two per request.
			if most := max(requests/4, int(took/(4*time.Millisecond))); tc.tuned && n > most {
				t.Errorf("sysmon switched %d times, want at most %d: not on its 10 ms tick", n, most)
			}
			if !tc.tuned && n < requests/2 {
				t.Errorf("sysmon switched %d times, less than once per two requests: the runtime's default no longer wakes it per request", n)
			}
		})
	}
}

// sysmonThread is the status file of the first thread the runtime starts
// after the main one: sysmon, which runtime.main starts before anything else.
// Thread IDs rise but for a wrap-around of the kernel's PID counter, when
// this fails or misreads: rare enough for a test.
func sysmonThread(t *testing.T, pid int) string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "task"))
	if err != nil {
		t.Fatal(err)
	}
	var tids []int
	for _, e := range entries {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	slices.Sort(tids)
	if len(tids) < 2 || tids[0] != pid {
		t.Fatalf("threads of %d: %v", pid, tids)
	}
	return filepath.Join("/proc", strconv.Itoa(pid), "task", strconv.Itoa(tids[1]), "status")
}

// switches reads a thread's voluntary context switches: one per sleep.
func switches(t *testing.T, status string) int {
	t.Helper()
	b, err := os.ReadFile(status)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("%s has no voluntary_ctxt_switches", status)
	return 0
}
