package e2e

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestUserTasksOnVirtualSubnet runs operators' own tasks end to end (issue
// 16): the master on h1; on h2 a slave offering exec tasks (sha256sum, a
// program that fails, one that hangs, one that writes too much); on h3 a
// slave offering http tasks against a small service started in h3's
// namespace; the client on h4. Requests must land only where their task is
// offered, failures must be 502 with their message, a hung program must be
// killed with nothing left behind, a task whose slave left must be 503 with
// Retry-After, and a task nobody offered 404.
func TestUserTasksOnVirtualSubnet(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e test: skipped in -short mode")
	}
	requireTools(t)
	const (
		masterH, execH, httpH, clientH = 1, 2, 3, 4
		servicePort                    = 8089
	)
	l := newLab(t, 4)
	bin := buildBinaries(t)
	buildExtra(t, bin, "./testutil/upperservice")
	dir := t.TempDir()
	failer := filepath.Join(dir, "fail.sh")
	// Only the first line of stderr may reach the client.
	script := "#!/bin/sh\necho 'bad input: no thanks' >&2\necho 'second line' >&2\nexit 3\n"
	if err := os.WriteFile(failer, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	c := &cluster{lab: l, client: l.host(clientH), base: fmt.Sprintf("http://%s:4242", l.hostIP(masterH))}
	c.master = startIn(t, l.host(masterH), "master", filepath.Join(bin, "master"))
	service := startIn(t, l.host(httpH), "upperservice", filepath.Join(bin, "upperservice"),
		"-listen", fmt.Sprintf("127.0.0.1:%d", servicePort))
	eventually(t, 10*time.Second, 50*time.Millisecond, "the local service in h3", func() (bool, string, error) {
		if err := service.unexpectedExit(); err != nil {
			return false, "", err
		}
		r, err := curlIn(l.host(httpH), fmt.Sprintf("http://127.0.0.1:%d/ok", servicePort))
		if err != nil {
			return false, err.Error(), nil
		}
		return r.status == 200, fmt.Sprintf("%d %q", r.status, r.body), nil
	})
	execSlave := &slave{proc: startIn(t, l.host(execH), "exec slave on h2", filepath.Join(bin, "slave"),
		"-task", "name=sha,exec=sha256sum,max-input=64KiB",
		"-task", "name=fail,exec="+failer,
		"-task", "name=nap,exec=sleep 3600,timeout=1s",
		"-task", "name=big,exec=head -c 100000 /dev/zero,max-output=1000")}
	httpSlave := &slave{proc: startIn(t, l.host(httpH), "http slave on h3", filepath.Join(bin, "slave"),
		"-task", fmt.Sprintf("name=upper,http=http://127.0.0.1:%d/upper", servicePort),
		"-task", fmt.Sprintf("name=broken,http=http://127.0.0.1:%d/fail", servicePort))}
	c.slaves = []*slave{execSlave, httpSlave}
	c.waitSlaves(t, 2, 15*time.Second)

	t.Run("offers listed per slave", func(t *testing.T) {
		want := map[string][]string{
			l.hostIP(execH).String(): {"sha", "fail", "nap", "big"},
			l.hostIP(httpH).String(): {"upper", "broken"},
		}
		eventually(t, 5*time.Second, 50*time.Millisecond, "each slave's offer in /api/slaves", func() (bool, string, error) {
			slaves, err := c.pool()
			if err != nil {
				return false, err.Error(), nil
			}
			for _, s := range slaves {
				for _, name := range want[s.IP] {
					if !slices.Contains(s.Tasks, name) {
						return false, fmt.Sprintf("%s offers %v, want %s among them", s.Slave, s.Tasks, name), nil
					}
				}
				for ip, names := range want {
					for _, name := range names {
						if ip != s.IP && slices.Contains(s.Tasks, name) {
							return false, "", fmt.Errorf("%s offers %s, which only %s was given", s.Slave, name, ip)
						}
					}
				}
			}
			return len(slaves) == 2, fmt.Sprintf("%d slaves", len(slaves)), nil
		})
	})

	// runsOn sends a JSON request and checks the result and which host ran it.
	runsOn := func(t *testing.T, host int, path, want string, extra ...string) {
		t.Helper()
		r, err := curlIn(c.client, c.base+path, append([]string{"-H", "Accept: application/json"}, extra...)...)
		if err != nil {
			t.Fatal(err)
		}
		var a taskAnswer
		if err := json.Unmarshal([]byte(r.body), &a); r.status != 200 || err != nil {
			t.Fatalf("%s: %d %q (%v); want 200 and a JSON answer", path, r.status, r.body, err)
		}
		if a.Result != want {
			t.Errorf("%s: result %q, want %q", path, a.Result, want)
		}
		if ip, _, _ := strings.Cut(a.Slave, ":"); ip != l.hostIP(host).String() {
			t.Errorf("%s ran on %s; only h%d (%s) offers it", path, a.Slave, host, l.hostIP(host))
		}
	}

	t.Run("sha256 of a POST body and of GET input", func(t *testing.T) {
		body := []byte("a body with\nnewlines, commas, \x00 and \xff bytes\n")
		f := filepath.Join(t.TempDir(), "body")
		if err := os.WriteFile(f, body, 0o600); err != nil {
			t.Fatal(err)
		}
		for range 4 {
			runsOn(t, execH, "/sha", fmt.Sprintf("%x  -\n", sha256.Sum256(body)), "--data-binary", "@"+f)
		}
		input := "hello, world & more"
		runsOn(t, execH, "/sha?input="+url.QueryEscape(input), fmt.Sprintf("%x  -\n", sha256.Sum256([]byte(input))))
		// The plain answer is the program's output byte for byte.
		r, err := curlIn(c.client, c.base+"/sha?input=abc")
		if want := fmt.Sprintf("%x  -\n", sha256.Sum256([]byte("abc"))); err != nil || r.status != 200 || r.body != want {
			t.Errorf("GET /sha?input=abc: %+v, %v; want 200 %q", r, err, want)
		}
	})

	t.Run("http task on the other host", func(t *testing.T) {
		for range 4 {
			runsOn(t, httpH, "/upper?input=hello%2C+World", "HELLO, WORLD")
		}
		runsOn(t, httpH, "/upper", "POSTED", "--data-binary", "posted")
	})

	t.Run("failures are 502 with their message", func(t *testing.T) {
		for _, tc := range []struct{ path, want, never string }{
			{"/fail?input=x", "bad input: no thanks", "second line"},
			{"/broken?input=x", "service says no", "second line"},
		} {
			r, err := curlIn(c.client, c.base+tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if r.status != 502 || !strings.Contains(r.body, tc.want) || strings.Contains(r.body, tc.never) {
				t.Errorf("GET %s: %d %q; want 502 with %q and without %q", tc.path, r.status, r.body, tc.want, tc.never)
			} else {
				t.Logf("GET %s: %d %s", tc.path, r.status, strings.TrimSpace(r.body))
			}
		}
		if r, err := curlIn(c.client, c.base+"/fail?input=x"); err != nil || !strings.Contains(r.body, "exit status 3") {
			t.Errorf("a program's failure must carry its exit status: %+v, %v", r, err)
		}
	})

	t.Run("input over max-input is 413", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "big")
		if err := os.WriteFile(f, make([]byte, 100_000), 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := curlIn(c.client, c.base+"/sha", "--data-binary", "@"+f)
		if err != nil || r.status != 413 {
			t.Errorf("POST /sha with 100000 bytes (max-input 64KiB): %+v, %v; want 413", r, err)
		}
	})

	// noneLeft waits until no process named comm is left in the exec host.
	noneLeft := func(t *testing.T, comm string) {
		t.Helper()
		eventually(t, 5*time.Second, 50*time.Millisecond, "no "+comm+" left in "+execSlave.ns, func() (bool, string, error) {
			pids, err := running(execSlave.ns, comm)
			return len(pids) == 0, fmt.Sprintf("%s still running: %v", comm, pids), err
		})
	}

	t.Run("a hung program is killed at its timeout", func(t *testing.T) {
		type result struct {
			r   answer
			err error
		}
		done := make(chan result, 1)
		start := time.Now()
		go func() {
			r, err := curlIn(c.client, c.base+"/nap?input=x")
			done <- result{r, err}
		}()
		// The check for leftovers below means something only if the
		// program did run in that namespace.
		eventually(t, 5*time.Second, 20*time.Millisecond, "sleep running in "+execSlave.ns, func() (bool, string, error) {
			pids, err := running(execSlave.ns, "sleep")
			return len(pids) > 0, "no sleep yet", err
		})
		res := <-done
		took := time.Since(start)
		if res.err != nil {
			t.Fatal(res.err)
		}
		if res.r.status != 502 || !strings.Contains(res.r.body, "timed out") {
			t.Errorf("GET /nap (sleep 3600, timeout=1s): %d %q after %s; want 502 saying it timed out", res.r.status, res.r.body, took)
		}
		t.Logf("GET /nap: %d %s after %s", res.r.status, strings.TrimSpace(res.r.body), took.Round(time.Millisecond))
		if took > 10*time.Second {
			t.Errorf("GET /nap answered after %s; the slave should kill it at 1s", took)
		}
		noneLeft(t, "sleep")
	})

	t.Run("output over max-output fails cleanly", func(t *testing.T) {
		r, err := curlIn(c.client, c.base+"/big?input=x")
		if err != nil {
			t.Fatal(err)
		}
		if r.status != 502 || len(r.body) > 1000 {
			t.Errorf("GET /big (100000 bytes out, max-output=1000): %d, %d bytes %.200q; want 502 with a message", r.status, len(r.body), r.body)
		}
		t.Logf("GET /big: %d %s", r.status, strings.TrimSpace(r.body))
		noneLeft(t, "head")
		runsOn(t, execH, "/sha?input=after", fmt.Sprintf("%x  -\n", sha256.Sum256([]byte("after"))))
	})

	t.Run("a task nobody offered is 404", func(t *testing.T) {
		r, err := curlIn(c.client, c.base+"/neveroffered?input=x")
		if err != nil {
			t.Fatal(err)
		}
		if r.status != 404 || !strings.Contains(r.body, "sha") || !strings.Contains(r.body, "upper") {
			t.Errorf("GET /neveroffered: %d %q; want 404 naming the offered tasks", r.status, r.body)
		}
	})

	t.Run("its slave leaves: 503 with Retry-After", func(t *testing.T) {
		httpSlave.stop(t, 35*time.Second) // SIGTERM: it drains and leaves
		c.slaves = []*slave{execSlave}
		c.waitSlaves(t, 1, 15*time.Second)
		r, err := curlIn(c.client, c.base+"/upper?input=x")
		if err != nil {
			t.Fatal(err)
		}
		if r.status != 503 || r.retryAfter == "" {
			t.Errorf("GET /upper after its only slave left: %d %q, Retry-After %q; want 503 with Retry-After", r.status, r.body, r.retryAfter)
		}
		t.Logf("GET /upper after its slave left: %d (Retry-After: %s) %s", r.status, r.retryAfter, strings.TrimSpace(r.body))
		runsOn(t, execH, "/sha?input=still", fmt.Sprintf("%x  -\n", sha256.Sum256([]byte("still"))))
	})

	if err := c.alive(); err != nil {
		t.Error(err)
	}
}
