package e2e

// The master's status page in a real browser: Debian's chromium, headless,
// driven by chromedp, against a master and three slaves running in this
// process on 127.0.0.1. The test reads the slave table, runs tasks through
// the form with the keyboard, stops a slave and watches its row, and saves
// screenshots (desktop and phone width) under test-artifacts/ or
// $ARTIFACTS_DIR.
//
// Chromium comes from $CHROMIUM, else Debian's package (`apt-get install
// chromium`). Without it the test skips, except under CI=true, where it
// fails. `go test -short` skips it.
//
// The browser may only talk to 127.0.0.1: background networking, component
// updates, sync and QUIC are off, every host name resolves to nothing, and
// any non-loopback URL goes to a proxy at 127.0.0.1:9, where nothing listens.
// The test fails if the page itself asks for anything but the master.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	browserslave "github.com/lbproject/loadbalancer/slave_src"
	"github.com/lbproject/loadbalancer/testutil"
)

const (
	browserFib90 = "2880067194370816120"
	// browserBadN is the master's message for /fibonacci?n=-1.
	browserBadN = `n must be a whole number from 0 to 1000000, got "-1"`
	// browserStep bounds each wait of the test; the page refreshes every
	// second, so a few seconds are plenty.
	browserStep = 15 * time.Second
)

func TestBrowserStatusPage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser: skipped in -short mode")
	}
	chromium := browserFindChromium(t)

	o := testutil.MasterOptions(t)
	o.Log = testutil.Logger(t, "master", "warning")
	m, _ := testutil.StartMaster(t, o)
	base := "http://" + m.HTTPAddr().String()
	var keys []string
	var nodes []*testutil.Node
	for i := 0; i < 3; i++ {
		so := testutil.SlaveOptions(t, m.DiscoveryAddr().String())
		so.Log = testutil.Logger(t, "slave", "warning")
		so.TargetDir = "" // publish no Prometheus target file from a test
		s, node := testutil.StartSlave(t, so)
		keys = append(keys, browserSlaveKey(s))
		nodes = append(nodes, node)
	}
	testutil.WaitFor(t, 10*time.Second, "3 slaves to join", func() bool { return m.Slaves() == 3 })

	ctx, seen := browserStart(t, chromium)
	browserDo(t, ctx, "open the status page", chromedp.Navigate(base+"/"))

	// The table lists the three slaves, serving.
	browserWait(t, ctx, "the slave table to list 3 serving slaves",
		`document.querySelectorAll('#slave-rows tr[data-state="serving"]').length === 3`)
	listed := browserEval[[]string](t, ctx, `[...document.querySelectorAll('#slave-rows tr')].map(r => r.dataset.key)`)
	if !slices.Equal(slices.Sorted(slices.Values(listed)), slices.Sorted(slices.Values(keys))) {
		t.Fatalf("the table lists %v, want %v", listed, keys)
	}
	browserWait(t, ctx, "the overview to show the algorithm and 3 slaves",
		`document.getElementById('s-algorithm').textContent === 'round_robin' &&
		 document.getElementById('s-slaves').textContent === '3 / 30'`)
	// Live: the figures change within a couple of seconds, without a reload.
	uptime := browserEval[string](t, ctx, `document.getElementById('s-uptime').textContent`)
	browserWait(t, ctx, "the uptime to move on", fmt.Sprintf(
		`document.getElementById('s-uptime').textContent !== %q && performance.getEntriesByType('navigation').length === 1`, uptime))

	// Keyboard only: Tab reaches the skip link, the task, n and Run, in
	// that order, with a visible focus ring; type n, press Enter.
	var order []string
	for i := 0; i < 4; i++ {
		browserDo(t, ctx, "press Tab", chromedp.KeyEvent(kb.Tab))
		order = append(order, browserEval[string](t, ctx, `document.activeElement.id || document.activeElement.className`))
		if i == 2 {
			browserDo(t, ctx, "type n=90", chromedp.KeyEvent("90"))
		}
	}
	if want := []string{"skip", "task", "n", "run"}; !slices.Equal(order, want) {
		t.Fatalf("tab order %v, want %v", order, want)
	}
	if ring := browserEval[string](t, ctx, `getComputedStyle(document.activeElement).outlineStyle`); ring == "none" {
		t.Errorf("the focused Run button shows no focus ring")
	}
	if task := browserEval[string](t, ctx, `document.getElementById('task').value`); task != "fibonacci" {
		t.Fatalf("the task select starts at %q, want fibonacci", task)
	}
	browserDo(t, ctx, "press Enter on Run", chromedp.KeyEvent(kb.Enter))
	browserWait(t, ctx, "the answer F(90)",
		`document.getElementById('answer').dataset.kind === 'ok' &&
		 document.getElementById('answer-value').textContent === '`+browserFib90+`'`)
	if live := browserEval[string](t, ctx, `document.getElementById('answer').getAttribute('aria-live')`); live != "polite" {
		t.Errorf("the answer region has aria-live %q", live)
	}
	browserWait(t, ctx, "the task in the recent tasks",
		`[...document.querySelectorAll('#task-rows tr')].some(r => r.dataset.status === 'ok' && r.textContent.includes('`+browserFib90+`'))`)
	browserScreenshot(t, ctx, "browser-status-page.png")

	// A bad n: the master's message, shown as an error.
	browserDo(t, ctx, "submit n=-1",
		chromedp.Focus(chromedp.ID("n")),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)), // select the 90
		chromedp.KeyEvent("-1"+kb.Enter))
	browserWait(t, ctx, "the error for n=-1",
		`document.getElementById('answer').dataset.kind === 'error' &&
		 document.getElementById('answer').textContent.includes('Error 400') &&
		 document.getElementById('answer-value').textContent === `+"`"+browserBadN+"`")

	// A slave stops: its row turns to lost (listed for -lost-slave-ttl, 30 s
	// by default, far longer than this wait), the others stay serving.
	nodes[0].Stop()
	browserWait(t, ctx, "the stopped slave's row to show lost",
		fmt.Sprintf(`(() => { const r = document.querySelector('#slave-rows tr[data-key="%s"]');
		  return r !== null && r.dataset.state === 'lost' &&
		    document.querySelectorAll('#slave-rows tr[data-state="serving"]').length === 2; })()`, keys[0]))
	browserScreenshot(t, ctx, "browser-status-slave-lost.png")

	// 1280 px: a long uptime fits its tile (measured right after setting
	// it, before the next poll writes the real one).
	browserDo(t, ctx, "emulate a 1280×900 screen", chromedp.EmulateViewport(1280, 900))
	browserWait(t, ctx, "the page to lay out at 1280 px", `window.innerWidth === 1280`)
	if !browserEval[bool](t, ctx, `(() => { const d = document.getElementById('s-uptime');
	    d.textContent = '12 h 34 min'; return d.scrollWidth <= d.clientWidth; })()`) {
		t.Error("the uptime tile truncates \"12 h 34 min\" at 1280 px")
	}

	// Phone width: nothing wider than the screen, the recent tasks' status
	// and result on screen, and a screenshot.
	browserDo(t, ctx, "emulate a 390×844 phone",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	browserWait(t, ctx, "the page to lay out at 390 px",
		`window.innerWidth === 390 && document.documentElement.scrollWidth <= 390`)
	browserWait(t, ctx, "a recent task's status and result inside the table's frame at 390 px",
		`(() => { const row = document.querySelector('#task-rows tr'); if (!row) return false;
		  const frame = row.closest('.table-wrap').getBoundingClientRect();
		  const status = row.querySelector('.badge').getBoundingClientRect();
		  const result = row.querySelector('td.result').getBoundingClientRect();
		  return status.width > 0 && result.width > 0 && status.right <= frame.right && result.right <= frame.right + 1; })()`)
	browserScreenshot(t, ctx, "browser-status-phone.png")

	for _, problem := range seen.problems(base) {
		t.Error(problem)
	}
}

// browserSlaveKey is the slave's name on the page, "IP:ID".
func browserSlaveKey(s *browserslave.Slave) string { return fmt.Sprintf("127.0.0.1:%d", s.ID()) }

// browserFindChromium returns the browser to run, or skips (fails under CI).
// Debian's /usr/bin/chromium is a launcher script that sources
// /etc/chromium.d (which adds flags such as --enable-remote-extensions, and
// API keys); the browser binary it runs is started directly when present, so
// that the flags below are the whole command line.
func browserFindChromium(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("CHROMIUM"), "/usr/lib/chromium/chromium", "/usr/bin/chromium"}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := "no chromium: apt-get install chromium (or set CHROMIUM to a Chromium binary)"
	if os.Getenv("CI") == "true" {
		t.Fatalf("prerequisite missing (CI=true, so this is a failure, not a skip): %s", msg)
	}
	t.Skip("skipping: " + msg)
	return ""
}

// browserOutput keeps what the browser prints, for the log of a failed test.
type browserOutput struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (o *browserOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.buf.Len() < 1<<20 {
		o.buf.Write(p)
	}
	return len(p), nil
}

func (o *browserOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// browserSeen is what the page did that the test checks at the end.
type browserSeen struct {
	mu       sync.Mutex
	requests []string
	errors   []string
}

func (s *browserSeen) listen(ev any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		s.requests = append(s.requests, ev.Request.URL)
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text = d.Exception.Description
		}
		s.errors = append(s.errors, fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, text))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			s.errors = append(s.errors, fmt.Sprintf("console.error with %d arguments", len(ev.Args)))
		}
	case *log.EventEntryAdded:
		expected := ev.Entry.Source == log.EntrySourceNetwork && strings.HasSuffix(ev.Entry.URL, "/fibonacci?n=-1") // the 400 asked for
		if ev.Entry.Level == log.EntryLevelError && !expected {
			s.errors = append(s.errors, fmt.Sprintf("browser log: %s (%s)", ev.Entry.Text, ev.Entry.URL))
		}
	}
}

// problems lists requests to anything but the master, and page errors.
func (s *browserSeen) problems(base string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, u := range s.requests {
		if !strings.HasPrefix(u, base+"/") && !strings.HasPrefix(u, "data:") {
			out = append(out, "the page asked for "+u+", which is not the master")
		}
	}
	if len(s.requests) == 0 {
		out = append(out, "no request of the page was seen")
	}
	return append(out, s.errors...)
}

// browserStart starts headless chromium with a fresh profile, opens a tab
// and returns its context; everything stops when the test ends.
func browserStart(t *testing.T, chromium string) (context.Context, *browserSeen) {
	t.Helper()
	profile := t.TempDir()
	output := &browserOutput{}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(profile),
		// Only what a headless test needs: no inherited environment (no
		// proxy variables, no keys), a home inside the profile.
		chromedp.NoInheritEnv,
		chromedp.Env("HOME="+profile, "PATH=/usr/bin:/bin", "LANG=C.UTF-8", "TZ=UTC"),
		chromedp.Headless, // also hides scrollbars and mutes audio
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(output),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true), // containers have a small /dev/shm
		// No traffic of the browser's own.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("disable-client-side-phishing-detection", true),
		chromedp.Flag("safebrowsing-disable-auto-update", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,"+
			"AutofillServerCommunication,CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions"),
		// And should anything try: names resolve to nothing, and every
		// non-loopback URL goes to a dead local proxy.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.Flag("proxy-server", "http://127.0.0.1:9"),
		chromedp.Flag("proxy-bypass-list", "127.0.0.1"),
		// Timers of a page nobody looks at still run every second.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("force-color-profile", "srgb"),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // kills the browser and waits for it
		if t.Failed() {
			t.Logf("chromium output:\n%s", output.String())
		}
	})
	// Start the browser with no deadline (a deadline on the first call would
	// bound the browser's life), but bound the start itself.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("starting %s: %v\n%s", chromium, err, output.String())
		}
	case <-time.After(browserStep * 2):
		t.Fatalf("%s did not start within %s\n%s", chromium, browserStep*2, output.String())
	}
	seen := &browserSeen{}
	if err := chromedp.Listen(ctx, seen.listen); err != nil {
		t.Fatal(err)
	}
	return ctx, seen
}

// browserDo runs actions in the tab, within browserStep.
func browserDo(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, browserStep)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// browserEval evaluates a JavaScript expression in the page.
func browserEval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, browserStep)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// browserWait waits, within browserStep, until a JavaScript expression is
// true in the page.
func browserWait(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	start := time.Now()
	sctx, cancel := context.WithTimeout(ctx, browserStep+time.Second)
	defer cancel()
	_, err := chromedp.Run(sctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(browserStep)))
	if err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("waiting for %s: %v\nthe page says:\n%s", what, err, text)
	}
	t.Logf("%s: after %s", what, time.Since(start).Round(time.Millisecond))
}

// browserScreenshot saves a PNG of the whole page and logs its path.
func browserScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, browserStep)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := browserArtifactsDir(t)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// browserArtifactsDir is $ARTIFACTS_DIR, or test-artifacts/ at the module
// root (ignored by git).
func browserArtifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ARTIFACTS_DIR")
	if dir == "" {
		root, err := filepath.Abs("..")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
			t.Fatalf("module root not found at %s: %v", root, err)
		}
		dir = filepath.Join(root, "test-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// TestBrowserHundredSlaves: with 100 slaves the page stays usable: every
// slave is listed in a table that scrolls inside its panel, the page keeps
// a bounded height. How long a refresh takes to render is printed, not
// judged: a speed on a shared machine is a measurement, not a test.
func TestBrowserHundredSlaves(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser: skipped in -short mode")
	}
	chromium := browserFindChromium(t)
	const slaves = 100
	o := testutil.MasterOptions(t)
	o.MaxSlaves = slaves
	o.Log = testutil.Logger(t, "master", "warning")
	m, _ := testutil.StartMaster(t, o)
	for i := 0; i < slaves; i++ {
		testutil.StartFakeSlave(t, m.DiscoveryAddr().String(), 100_000_000_000, testutil.FakeRefuse)
	}
	testutil.WaitFor(t, 30*time.Second, "100 slaves to join", func() bool { return m.Slaves() == slaves })

	ctx, seen := browserStart(t, chromium)
	base := "http://" + m.HTTPAddr().String()
	browserDo(t, ctx, "open the status page", chromedp.Navigate(base+"/"))
	browserWait(t, ctx, "100 serving rows",
		`document.querySelectorAll('#slave-rows tr[data-state="serving"]').length === 100`)
	// Two more refreshes, so that the page runs on ?history=10.
	browserWait(t, ctx, "two more refreshes", `(() => {
		const r = performance.getEntriesByType('resource').filter(e => e.name.includes('/api/slaves?history='));
		return r.length >= 2; })()`)
	type figures struct {
		Scrolls      bool    `json:"scrolls"`
		TableHeight  float64 `json:"table_height"`
		PageHeight   float64 `json:"page_height"`
		RenderMS     float64 `json:"render_ms"`
		FullBytes    float64 `json:"full_bytes"`
		PartialBytes float64 `json:"partial_bytes"`
		FetchMS      float64 `json:"fetch_ms"`
	}
	f := browserEval[figures](t, ctx, `(() => {
		const wrap = document.querySelector('.slaves-wrap');
		const res = performance.getEntriesByType('resource').filter(e => e.name.includes('/api/slaves'));
		const full = res.filter(e => !e.name.includes('history=')).pop();
		const part = res.filter(e => e.name.includes('history=')).pop();
		return {
			scrolls: wrap.scrollHeight > wrap.clientHeight,
			table_height: wrap.clientHeight,
			page_height: document.documentElement.scrollHeight,
			render_ms: performance.getEntriesByName('lb-render').pop().duration,
			full_bytes: full ? full.decodedBodySize : 0,
			partial_bytes: part ? part.decodedBodySize : 0,
			fetch_ms: part ? part.duration : 0,
		};
	})()`)
	t.Logf("100 slaves: table %v px high, scrolls %v; page %v px; render %.1f ms; /api/slaves %v bytes, ?history=10 %v bytes in %.1f ms",
		f.TableHeight, f.Scrolls, f.PageHeight, f.RenderMS, f.FullBytes, f.PartialBytes, f.FetchMS)
	if !f.Scrolls || f.PageHeight > 2500 {
		t.Errorf("with 100 slaves the table does not scroll in its panel (page %v px high)", f.PageHeight)
	}
	browserScreenshot(t, ctx, "browser-status-100-slaves.png")
	for _, problem := range seen.problems(base) {
		t.Error(problem)
	}
}
