package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
)

func TestStatsWindowFigures(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := newStats(0, t0)
	if f := s.figures(t0.Add(time.Second)); f.requests != 0 || f.rate() != 0 || f.p50 != 0 {
		t.Fatalf("empty window: %+v", f)
	}
	// 5 old requests (out of the window), then 100 taking 1..100 ms.
	for i := 0; i < 5; i++ {
		s.observe(t0.Add(time.Duration(i)*time.Second), time.Hour)
	}
	for i := 1; i <= 100; i++ {
		s.observe(t0.Add(20*time.Second+time.Duration(i)*time.Millisecond), time.Duration(i)*time.Millisecond)
	}
	f := s.figures(t0.Add(25 * time.Second))
	if f.requests != 100 || f.p50 != 50*time.Millisecond || f.p99 != 99*time.Millisecond {
		t.Errorf("figures %+v, want 100 requests, p50 50ms, p99 99ms", f)
	}
	if r := f.rate(); r != 10 {
		t.Errorf("rate %v, want 100 requests / 10 s", r)
	}
	// Early on, the rate counts over the uptime, not the whole window.
	s2 := newStats(0, t0)
	for i := 0; i < 4; i++ {
		s2.observe(t0.Add(time.Second), time.Millisecond)
	}
	if r := s2.figures(t0.Add(2 * time.Second)).rate(); r != 2 {
		t.Errorf("rate after 2 s: %v, want 2", r)
	}
	// A full ring covers less than the window: the rate is over what it covers.
	s3 := newStats(0, t0)
	for i := 0; i < statsWindowSamples+100; i++ {
		s3.observe(t0.Add(time.Second+time.Duration(i)*100*time.Microsecond), time.Millisecond)
	}
	f3 := s3.figures(t0.Add(time.Second + (statsWindowSamples+100)*100*time.Microsecond))
	if f3.requests != statsWindowSamples || f3.rate() < 9900 || f3.rate() > 10100 {
		t.Errorf("saturated window: %d requests at %v/s, want %d at about 10000/s", f3.requests, f3.rate(), statsWindowSamples)
	}
}

func TestChartValue(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want float64 }{
		{0, 0}, {0.5, 0.5}, {1.23456, 1.235}, {12345.678, 12350}, {2880067194.5, 2880000000},
		{0.000123456, 0.0001235}, {-7.77777, -7.778}, {1e11, 1e11}, {99999, 100000},
	} {
		if got := chartValue(tt.in); got != tt.want {
			t.Errorf("chartValue(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	d := []time.Duration{1, 2, 3, 4}
	for _, tt := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 2}, {0.99, 4}, {0.25, 1}, {0.26, 2}, {1, 4}, {0, 1}} {
		if got := percentile(d, tt.p); got != tt.want {
			t.Errorf("p%v = %v, want %v", tt.p, got, tt.want)
		}
	}
	if got := percentile([]time.Duration{7}, 0.99); got != 7 {
		t.Errorf("one sample: %v", got)
	}
}

func TestStatsRecentTasks(t *testing.T) {
	t.Parallel()
	s := newStats(3, time.Now())
	big := strings.Repeat("7", 1000)
	for i := uint64(1); i <= 5; i++ {
		s.finished(taskRecord{id: i, task: "fibonacci", n: i}, fmt.Sprint(i))
	}
	s.finished(taskRecord{id: 6}, big)
	var ids []uint64
	for _, r := range s.recent(10) {
		ids = append(ids, r.id)
	}
	if !slices.Equal(ids, []uint64{6, 5, 4}) {
		t.Errorf("recent ids %v, want 6 5 4", ids)
	}
	r := s.recent(1)[0]
	if r.resultLen != 1000 || len(r.result) != resultKept || r.result != big[:resultKept] {
		t.Errorf("big result kept as %d bytes of %d", len(r.result), r.resultLen)
	}
	if got := s.recent(2); len(got) != 2 || got[1].result != "5" || got[1].resultLen != 1 {
		t.Errorf("recent(2) = %+v", got)
	}
	empty := newStats(0, time.Now())
	empty.finished(taskRecord{id: 1}, "1")
	if len(empty.recent(5)) != 0 || empty.capacity() != 0 {
		t.Errorf("a zero-capacity ring keeps tasks")
	}
}

func TestTaskStatusOf(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{fmt.Errorf("%w on x: boom", errTaskFailed), "failed"},
		{errTaskTimeout, "timeout"},
		{errNoCapacity, "unavailable"},
		{errQueueFull, "unavailable"},
		{context.Canceled, "canceled"},
		{errors.New("other"), "error"},
	} {
		if got := taskStatusOf(tt.err).String(); got != tt.want {
			t.Errorf("%v: %s, want %s", tt.err, got, tt.want)
		}
	}
}

// The load history is a ring of the last reports; a removed slave stays
// listed as lost for lostFor, then goes; a slave that joins again replaces
// its lost record.
func TestPoolHistoryAndLostSlaves(t *testing.T) {
	t.Parallel()
	o := NewOptions()
	o.MaxSlaves, o.LoadHistory, o.LostSlaveTTL = 2000, 3, time.Minute
	mst := newTestMaster(t, o)
	key := nodeKey{IP: netip.MustParseAddr("10.0.0.7"), ID: 4000}
	m := joinForTest(t, mst, key, 9100, packets.LoadReport{MaxLoad: 100, Load: 0.5, Factor: 0.5})
	now := time.Now()
	hist := func(h int) []float64 { return mst.slaveList(now, h)[0].LoadHistory }
	if got := hist(10); !slices.Equal(got, []float64{0.5}) {
		t.Fatalf("history after the first report: %v", got)
	}
	for i := 1; i <= 4; i++ {
		m.reported(packets.LoadReport{MaxLoad: 100, Load: float64(i), Factor: 0.5})
	}
	if got := hist(10); !slices.Equal(got, []float64{2, 3, 4}) {
		t.Errorf("history %v, want the last 3 reports", got)
	}
	if got := hist(2); !slices.Equal(got, []float64{3, 4}) {
		t.Errorf("history(2) %v, want the last 2", got)
	}
	if got := hist(0); len(got) != 0 || got == nil {
		t.Errorf("history(0) %v, want an empty list", got)
	}
	m.done.Add(2)
	m.refused.Add(1)
	if v := mst.slaveList(now, 3)[0]; v.Reports != 5 || v.TasksDone != 2 || v.TasksRefused != 1 || v.State != stateServingName ||
		v.Slave != "10.0.0.7:4000" || v.MetricsPort != 9100 || v.MaxLoad != 100 {
		t.Errorf("view %+v", v)
	}

	m.lost(errLinkLost)
	m.lost(errLinkLost) // twice: still one record
	list := mst.slaveList(time.Now(), 3)
	if len(list) != 1 || list[0].State != stateLostName || list[0].LostAt == nil || !slices.Equal(list[0].LoadHistory, []float64{2, 3, 4}) {
		t.Fatalf("after removal: %+v", list)
	}
	if s, l := mst.Slaves(), mst.history.lostCount(time.Now()); s != 0 || l != 1 {
		t.Errorf("counts: %d serving, %d lost", s, l)
	}
	if list := mst.slaveList(time.Now().Add(2*time.Minute), 3); len(list) != 0 {
		t.Errorf("still listed after lostFor: %+v", list)
	}

	m2 := joinForTest(t, mst, key, 9100, packets.LoadReport{MaxLoad: 100})
	m2.lost(errLinkLost)
	joinForTest(t, mst, key, 9100, packets.LoadReport{MaxLoad: 100})
	if list := mst.slaveList(time.Now(), 3); len(list) != 1 || list[0].State != stateServingName {
		t.Errorf("rejoined slave listed as %+v, want one serving row", list)
	}

	// Never more than maxLostListed lost rows.
	for i := 0; i < maxLostListed+10; i++ {
		x := joinForTest(t, mst, nodeKey{IP: key.IP, ID: uint16(10000 + i)}, 0, packets.LoadReport{MaxLoad: 1})
		x.lost(errLinkLost)
	}
	if l := mst.history.lostCount(time.Now()); l != maxLostListed {
		t.Errorf("%d lost rows, want at most %d", l, maxLostListed)
	}
}

// A slave being lost is listed exactly once at every step of lost(): the
// registry marks it, the history records it, then the pool lets it go.
// /api/slaves once missed it between the first two steps.
func TestSlaveBeingLostListedOnce(t *testing.T) {
	t.Parallel()
	o := NewOptions()
	o.LostSlaveTTL = time.Minute
	mst := newTestMaster(t, o)
	s := joinForTest(t, mst, nodeKey{IP: netip.MustParseAddr("10.0.0.8"), ID: 4001}, 0, packets.LoadReport{MaxLoad: 100})
	check := func(step, want string) {
		t.Helper()
		list := mst.slaveList(time.Now(), 3)
		if len(list) != 1 || list[0].State != want {
			t.Errorf("%s: listed %+v, want one row %q", step, list, want)
		}
	}
	check("serving", stateServingName)
	now := time.Now()
	st := mst.slaveStatus(s, now, 3)
	if !mst.reg.lose(s) {
		t.Fatal("registry did not lose the session")
	}
	check("registry lost it", stateServingName)
	mst.history.lost(s, st, "test", now)
	check("history recorded it", stateLostName)
	mst.pool.remove(s.mb)
	check("pool let it go", stateLostName)
}

// A slave that confirmed its join and is being connected is listed as
// joining; an ACKed slave that has not confirmed, and a joining monitor,
// are not.
func TestStatusListsJoiningSlaves(t *testing.T) {
	t.Parallel()
	o := NewOptions()
	m := newTestMaster(t, o)
	ip := netip.MustParseAddr("10.1.2.3")
	now := time.Now()
	for _, k := range []peerKey{{nodeKey{ip, 4001}, false}, {nodeKey{ip, 4002}, false}, {nodeKey{ip, 4003}, true}} {
		reply := m.reg.ack(k, now)
		if k.ID != 4002 { // 4002 was ACKed and never confirmed
			m.reg.confirm(k, reply.Token, ip, now)
		}
	}
	joinForTest(t, m, nodeKey{ip, 4000}, 0, packets.LoadReport{MaxLoad: 10})

	rec := httptest.NewRecorder()
	m.routes().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/slaves", nil))
	var got slavesStatus
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, s := range got.Slaves {
		states = append(states, s.Slave+" "+s.State)
	}
	if want := []string{"10.1.2.3:4000 serving", "10.1.2.3:4001 joining"}; !slices.Equal(states, want) {
		t.Errorf("listed %v, want %v", states, want)
	}
	if j := got.Slaves[1]; j.JoinedAt != nil || j.LastReportAt != nil || j.LastReportAgeMS != nil || j.LoadHistory == nil {
		t.Errorf("joining slave %+v", j)
	}
	rec = httptest.NewRecorder()
	m.routes().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/status", nil))
	var st masterStatus
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	if st.Slaves != 1 || st.SlavesJoining != 1 {
		t.Errorf("status: %d serving, %d joining; want 1 and 1", st.Slaves, st.SlavesJoining)
	}
}
