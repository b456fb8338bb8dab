package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// This file builds the virtual subnet and runs processes in it. Nothing here
// touches the root network namespace except creating and deleting the names
// of the test's own namespaces: the bridge, the veth pairs and every address
// live inside namespaces the test created, so all traffic stays there.

// skipOrFail skips the test when the environment cannot run it, except under
// CI=true, where a missing prerequisite is a failure: CI must never report a
// pass for a test that did not run.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("e2e prerequisite missing (CI=true, so this is a failure, not a skip): %s", msg)
	}
	t.Skipf("skipping e2e test: %s", msg)
}

// requireTools checks what the test needs before it creates anything.
func requireTools(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "must run as root to create network namespaces (euid %d)", os.Geteuid())
	}
	for _, tool := range []string{"ip", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipOrFail(t, "%q is not installed: %v", tool, err)
		}
	}
}

// cleanEnv is the environment of every child process: no proxy settings, so
// curl talks to the virtual subnet directly and never to a proxy elsewhere,
// no GOMAXPROCS, so the slaves share the cores as they do by default, and no
// GODEBUG, so the daemons set the runtime up as they do by default.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch strings.ToLower(name) {
		case "http_proxy", "https_proxy", "all_proxy", "no_proxy":
			continue
		case "gomaxprocs": // it would stop the slaves sharing the cores
			continue
		case "godebug": // a schedtrace in it would stop runtimetune's re-exec
			continue
		}
		env = append(env, kv)
	}
	return env
}

// runCmd runs a short command and returns its combined output.
func runCmd(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// lab is a virtual subnet: one namespace holding a bridge (the switch) and
// one namespace per host, each wired to the bridge by a veth pair whose host
// end is called eth0 and carries 10.231.X.<host>/24.
type lab struct {
	prefix string       // every namespace name starts with it
	subnet netip.Prefix // 10.231.X.0/24
	bridge string       // the bridge namespace
	hosts  []string     // hosts[i] is the namespace of host i+1
}

// newLab creates the bridge namespace and n host namespaces. Their deletion
// is registered with t.Cleanup before anything is created, so it happens even
// when a later step fails. If the first `ip netns add` fails, the environment
// cannot run the test: skipOrFail.
func newLab(t *testing.T, n int) *lab {
	t.Helper()
	pid := os.Getpid()
	l := &lab{
		prefix: fmt.Sprintf("lbe2e-%d-", pid),
		subnet: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 231, byte(1 + pid%254), 0}), 24),
	}
	l.bridge = l.prefix + "br"
	// Cleanups run last-registered first: processes stop, then the
	// namespaces go, then this check confirms none is left.
	t.Cleanup(l.checkGone(t))
	t.Cleanup(l.destroy(t))
	if _, err := runCmd("ip", "netns", "add", l.bridge); err != nil {
		skipOrFail(t, "cannot create a network namespace: %v", err)
	}
	l.mustIP(t, l.bridge, "link", "add", "br0", "type", "bridge")
	l.mustIP(t, l.bridge, "link", "set", "br0", "up")
	for i := 1; i <= n; i++ {
		ns := fmt.Sprintf("%sh%d", l.prefix, i)
		if _, err := runCmd("ip", "netns", "add", ns); err != nil {
			t.Fatalf("creating namespace %s: %v", ns, err)
		}
		l.hosts = append(l.hosts, ns)
		// Both ends are created inside our namespaces: the bridge port vN
		// in the bridge namespace, eth0 in the host's.
		port := fmt.Sprintf("v%d", i)
		l.mustIP(t, l.bridge, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
		l.mustIP(t, l.bridge, "link", "set", port, "master", "br0")
		l.mustIP(t, l.bridge, "link", "set", port, "up")
		l.mustIP(t, ns, "addr", "add", l.hostIP(i).String()+"/24", "brd", "+", "dev", "eth0")
		l.mustIP(t, ns, "link", "set", "eth0", "up")
		l.mustIP(t, ns, "link", "set", "lo", "up")
	}
	return l
}

func (l *lab) mustIP(t *testing.T, ns string, args ...string) {
	t.Helper()
	if _, err := runCmd("ip", append([]string{"-n", ns}, args...)...); err != nil {
		t.Fatalf("setting up the virtual subnet: %v", err)
	}
}

// host returns the namespace of host i (1-based).
func (l *lab) host(i int) string { return l.hosts[i-1] }

// hostIP returns the address of host i (1-based): 10.231.X.i.
func (l *lab) hostIP(i int) netip.Addr {
	a := l.subnet.Addr().As4()
	a[3] = byte(i)
	return netip.AddrFrom4(a)
}

// destroy deletes every namespace of the lab; deleting a namespace deletes
// the bridge and veth devices in it. Processes must be stopped first (their
// cleanups are registered later, so they run earlier).
func (l *lab) destroy(t *testing.T) func() {
	return func() {
		out, err := runCmd("ip", "netns", "list")
		if err != nil {
			t.Errorf("listing namespaces for cleanup: %v", err)
			return
		}
		for _, ns := range l.ours(out) {
			if _, err := runCmd("ip", "netns", "delete", ns); err != nil {
				t.Errorf("deleting namespace %s: %v", ns, err)
			}
		}
	}
}

// checkGone fails the test if any namespace of the lab survived cleanup.
func (l *lab) checkGone(t *testing.T) func() {
	return func() {
		out, err := runCmd("ip", "netns", "list")
		if err != nil {
			t.Errorf("listing namespaces after cleanup: %v", err)
			return
		}
		if left := l.ours(out); len(left) > 0 {
			t.Errorf("namespaces left behind after cleanup: %v", left)
			return
		}
		t.Logf("teardown: no namespace named %s* left", l.prefix)
	}
}

// ours returns the names in `ip netns list` output that belong to the lab.
func (l *lab) ours(list string) []string {
	var names []string
	for _, line := range strings.Split(list, "\n") {
		// lines look like "name" or "name (id: 3)"
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], l.prefix) {
			names = append(names, f[0])
		}
	}
	return names
}

// syncBuffer is a bytes.Buffer safe for a process writing while the test
// reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is a daemon started in a namespace.
type proc struct {
	name string
	ns   string
	cmd  *exec.Cmd
	out  *syncBuffer // stdout and stderr

	done    chan struct{} // closed when the process has exited and been reaped
	waitErr error         // set before done is closed

	mu     sync.Mutex
	killed bool // the test ended it on purpose
}

// startIn starts bin with args in namespace ns. Its cleanup, registered here,
// stops it (SIGTERM, then SIGKILL) and logs its output if the test failed.
func startIn(t *testing.T, ns, name, bin string, args ...string) *proc {
	t.Helper()
	// `ip netns exec` execs the binary in place, so cmd.Process is the
	// daemon itself and signals reach it directly.
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, bin}, args...)...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = cleanEnv()
	// If the test binary dies, take the daemon along: a leftover process
	// would keep its namespace alive.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s in %s: %v", name, ns, err)
	}
	p := &proc{name: name, ns: ns, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(t, 5*time.Second)
		if t.Failed() {
			t.Logf("----- output of %s (pid %d, namespace %s, exit: %v) -----\n%s", p.name, p.cmd.Process.Pid, p.ns, p.waitErr, p.out)
		}
	})
	return p
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// unexpectedExit returns an error if the process ended without the test
// asking for it.
func (p *proc) unexpectedExit() error {
	p.mu.Lock()
	killed := p.killed
	p.mu.Unlock()
	if !killed && p.exited() {
		return fmt.Errorf("%s exited unexpectedly (%v); output:\n%s", p.name, p.waitErr, p.out)
	}
	return nil
}

// kill sends SIGKILL and waits for the process to be reaped.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	p.killed = true
	p.mu.Unlock()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("killing %s (pid %d): %v", p.name, p.cmd.Process.Pid, err)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s (pid %d) still running 10s after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

// stop ends the process: SIGTERM, then SIGKILL after grace. It always waits
// for the process to be reaped; a second call is harmless.
func (p *proc) stop(t *testing.T, grace time.Duration) {
	p.mu.Lock()
	p.killed = true
	p.mu.Unlock()
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	t.Errorf("%s (pid %d) ignored SIGTERM for %s; sending SIGKILL", p.name, p.cmd.Process.Pid, grace)
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// response is an HTTP answer as curl saw it.
type response struct {
	status int
	body   string
}

// curlSep separates the body from the status code curl writes after it.
const curlSep = "\n@@e2e-status@@"

// httpGet runs curl in namespace ns and returns the status and body. Extra
// headers are "Name: value" strings.
func httpGet(ns, url string, headers ...string) (response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 75*time.Second)
	defer cancel()
	args := []string{"netns", "exec", ns, "curl", "-sS", "--noproxy", "*", "--max-time", "70",
		"-w", curlSep + "%{http_code}"}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	args = append(args, url)
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.Env = cleanEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return response{}, fmt.Errorf("curl %s in %s: %w: %s", url, ns, err, bytes.TrimSpace(stderr.Bytes()))
	}
	out := stdout.String()
	i := strings.LastIndex(out, curlSep)
	if i < 0 {
		return response{}, fmt.Errorf("curl %s: no status in output %q", url, out)
	}
	status, err := strconv.Atoi(out[i+len(curlSep):])
	if err != nil {
		return response{}, fmt.Errorf("curl %s: bad status in output %q", url, out)
	}
	return response{status: status, body: out[:i]}, nil
}

// eventually polls cond every interval until it reports done, or fails the
// test after timeout with what cond last said. It returns how long it took.
func eventually(t *testing.T, timeout, interval time.Duration, what string, cond func() (bool, string, error)) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	last := "never checked"
	for {
		ok, state, err := cond()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return time.Since(start)
		}
		last = state
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last state: %s", timeout, what, last)
		}
		time.Sleep(interval)
	}
}

// metricValue returns the value of an unlabelled sample in Prometheus text.
func metricValue(exposition, name string) (float64, bool) {
	for _, line := range strings.Split(exposition, "\n") {
		rest, ok := strings.CutPrefix(line, name+" ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		return v, err == nil
	}
	return 0, false
}
