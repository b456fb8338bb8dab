package e2e

// The monitor's status page in a real browser, with the helpers of
// browser_test.go (same chromium, same flags, same rules: skipped without
// chromium, failed under CI=true; skipped by -short): a master, a slave on
// 127.0.0.1 and fake slaves on 127.0.0.2, a monitor and the Grafana double,
// all in this process. The test reads the slave hosts and the Grafana sync
// state, takes Grafana down and back and watches the last error, and saves
// screenshots (desktop and phone width).

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	monitor "github.com/lbproject/loadbalancer/monitoring_src"
	"github.com/lbproject/loadbalancer/testutil"
	"github.com/lbproject/loadbalancer/testutil/grafanadouble"
)

// monitorPageKey is the Grafana key of the test: it must never reach the page.
const monitorPageKey = "glsa_monitorPageToken_c41d09"

func TestMonitorBrowserStatusPage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser: skipped in -short mode")
	}
	chromium := browserFindChromium(t)

	g := grafanadouble.StartTest(t, monitorPageKey)
	mo := testutil.MasterOptions(t)
	mo.Log = testutil.Logger(t, "master", "warning")
	m, _ := testutil.StartMaster(t, mo)
	disco := m.DiscoveryAddr().String()
	var ids []string
	for i := 0; i < 2; i++ {
		so := testutil.SlaveOptions(t, disco)
		so.Log = testutil.Logger(t, "slave", "warning")
		so.TargetDir = "" // publish no Prometheus target file from a test
		s, _ := testutil.StartSlave(t, so)
		ids = append(ids, fmt.Sprint(s.ID()))
	}
	testutil.StartFakeSlaveAt(t, "127.0.0.2", disco, 1000, testutil.FakeRefuse)
	testutil.WaitFor(t, 10*time.Second, "3 slaves to join", func() bool { return m.Slaves() == 3 })

	o := monitor.NewOptions()
	o.Iface, o.Master = "lo", disco
	o.Interval = 200 * time.Millisecond
	o.JoinFirstWait, o.JoinMaxWait = 50*time.Millisecond, 200*time.Millisecond
	o.Grafana.URL, o.Grafana.Key = g.URL(), monitorPageKey
	// A Prometheus for host 127.0.0.1 only: Grafana finds none at
	// 127.0.0.2, and the page says so.
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"scalar","result":[0,"2"]}}`)
	}))
	t.Cleanup(prom.Close)
	o.Grafana.PrometheusPort = prom.Listener.Addr().(*net.TCPAddr).Port
	o.StatusAddr = "127.0.0.1:0"
	o.Log = testutil.Logger(t, "monitor", "warning")
	mon, err := monitor.New(o)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Run(t, mon.Run)
	base := "http://" + mon.StatusAddr().String()

	ctx, seen := browserStart(t, chromium)
	browserDo(t, ctx, "open the monitor's page", chromedp.Navigate(base+"/"))

	// The master, the two slave hosts with their datasources, Grafana in step.
	browserWait(t, ctx, "two slave hosts in Grafana, the second's Prometheus down",
		`[...document.querySelectorAll('#host-rows tr')].map(r => r.dataset.ip + '=' + r.dataset.datasource).join(' ') ===
		 '127.0.0.1=in Grafana 127.0.0.2=Prometheus down' &&
		 document.getElementById('hosts-summary').textContent.includes('1 whose Prometheus does not answer')`)
	browserWait(t, ctx, "the master and Grafana in step", fmt.Sprintf(
		`document.getElementById('s-master').textContent === %q &&
		 document.getElementById('s-hosts').textContent === '2' &&
		 document.getElementById('s-slaves').textContent === '3' &&
		 document.getElementById('g-state').textContent === 'ok' &&
		 document.getElementById('g-success').textContent.endsWith('s ago') &&
		 document.getElementById('g-alert').hidden`, disco))
	chips := browserEval[[]string](t, ctx, `[...document.querySelectorAll('#g-datasources li')].map(li => li.textContent)`)
	if want := []string{"lb-127.0.0.1", "lb-127.0.0.2"}; !slices.Equal(chips, want) {
		t.Errorf("datasources on the page %v, want %v", chips, want)
	}
	refs := browserEval[string](t, ctx, `document.querySelector('#host-rows tr[data-ip="127.0.0.1"] .c-refs').textContent`)
	for _, id := range ids {
		if !strings.Contains(refs, id+" · :") {
			t.Errorf("the 127.0.0.1 row lists %q, without slave %s", refs, id)
		}
	}
	// Live: the figures change without a reload.
	uptime := browserEval[string](t, ctx, `document.getElementById('s-uptime').textContent`)
	browserWait(t, ctx, "the uptime to move on", fmt.Sprintf(
		`document.getElementById('s-uptime').textContent !== %q && performance.getEntriesByType('navigation').length === 1`, uptime))

	if href := browserEval[string](t, ctx, `document.querySelector('#g-dashboard a').href`); href != g.URL()+"/d/plugnplay-lb" {
		t.Errorf("the dashboard links to %q", href)
	}

	// Keyboard: Tab reaches the skip link, the links to Grafana and its
	// dashboard, then the scrollable host table, each with a visible focus
	// ring.
	var order []string
	for i := 0; i < 4; i++ {
		browserDo(t, ctx, "press Tab", chromedp.KeyEvent(kb.Tab))
		order = append(order, browserEval[string](t, ctx,
			`(e => e.id || e.className || e.tagName + ' in ' + e.parentElement.id)(document.activeElement)`))
		if ring := browserEval[string](t, ctx, `getComputedStyle(document.activeElement).outlineStyle`); ring == "none" {
			t.Errorf("the focused %s shows no focus ring", order[i])
		}
	}
	if want := []string{"skip", "A in g-url", "A in g-dashboard", "table-wrap hosts-wrap"}; !slices.Equal(order, want) {
		t.Errorf("tab order %v, want %v", order, want)
	}
	browserEval[bool](t, ctx, `document.activeElement.blur(), true`) // no focus ring in the screenshot
	browserScreenshot(t, ctx, "monitor-status-page.png")

	// Grafana down: the error, highlighted, within a few syncs.
	g.SetDown(true)
	browserWait(t, ctx, "the Grafana error, highlighted",
		`document.getElementById('g-alert').dataset.kind === 'error' && !document.getElementById('g-alert').hidden &&
		 document.getElementById('g-error').textContent.includes('503') &&
		 document.getElementById('g-state').textContent === 'failing' &&
		 document.getElementById('s-grafana').textContent === 'failing'`)
	if bg := browserEval[string](t, ctx, `getComputedStyle(document.getElementById('g-alert')).backgroundColor`); bg == "rgba(0, 0, 0, 0)" {
		t.Errorf("the Grafana error is not highlighted (background %s)", bg)
	}
	browserScreenshot(t, ctx, "monitor-status-grafana-down.png")

	// Grafana back: in step again, the error kept as a past one.
	g.SetDown(false)
	browserWait(t, ctx, "Grafana in step again",
		`document.getElementById('g-state').textContent === 'ok' &&
		 document.getElementById('g-alert').dataset.kind === 'past' &&
		 document.querySelectorAll('#g-datasources li').length === 2`)

	// Phone width: nothing wider than the screen.
	browserDo(t, ctx, "emulate a 390×844 phone",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	browserWait(t, ctx, "the page to lay out at 390 px",
		`window.innerWidth === 390 && document.documentElement.scrollWidth <= 390`)
	browserScreenshot(t, ctx, "monitor-status-phone.png")

	if text := browserEval[string](t, ctx, `document.documentElement.outerHTML`); strings.Contains(text, monitorPageKey) {
		t.Errorf("the page shows the Grafana key")
	}
	for _, problem := range seen.problems(base) {
		t.Error(problem)
	}
}
