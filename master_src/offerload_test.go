package master_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/common/tasks"
	"github.com/lbproject/loadbalancer/testutil/apijson"
)

// The load a task reserves on its slave is the task's estimate of its
// input: a built-in's Load(n), a slave's own task's load per byte times the
// input's length. The slave reads /api/slaves while it holds the task, so
// the reservation is seen before the result releases it.
func TestTaskLoadReserved(t *testing.T) {
	m, base := offerMaster(t)
	committed := make(chan float64, 1)
	holding := func(_ uint64, req packets.Message) packets.TaskResult {
		_, _, body := do(t, "GET", base+"/api/slaves", nil)
		committed <- apijson.Decode(t, string(body)).Objects(t, "slaves")[0].Num(t, "committed_load")
		return reverse(0, req)
	}
	perByte := packets.OfferedTask{Name: "rev", PerByte: true, Load: 3, MaxInput: 100}
	joinOfferSlave(t, m, &packets.TaskOffer{Tasks: []packets.OfferedTask{fibonacciOffer, perByte}}, holding)
	waitOffered(t, base, "rev", 1)
	fib, _ := tasks.ByName("fibonacci")
	for _, tc := range []struct {
		method, path string
		body         []byte
		want         uint64
	}{
		{"GET", "/fibonacci?n=90", nil, fib.Load(90)},
		{"POST", "/rev", []byte("hello"), 3 * 5},
	} {
		if status, _, body := do(t, tc.method, base+tc.path, tc.body); status != 200 {
			t.Fatalf("%s %s: %d %q", tc.method, tc.path, status, body)
		}
		if got := <-committed; got != float64(tc.want) {
			t.Errorf("%s %s reserved a load of %v on its slave, want %d", tc.method, tc.path, got, tc.want)
		}
	}
}

// A slave's own task's time limit is the slave's; the master waits a grace
// second longer, so that the slave's own verdict normally comes first.
func TestOwnTaskTimeoutHasGrace(t *testing.T) {
	m, base := offerMaster(t)
	release := make(chan struct{})
	never := func(_ uint64, req packets.Message) packets.TaskResult {
		<-release
		return reverse(0, req)
	}
	joinOfferSlave(t, m, &packets.TaskOffer{Tasks: []packets.OfferedTask{{Name: "stuck", Load: 1, MaxInput: 8, TimeoutMillis: 100}}}, never)
	t.Cleanup(func() { close(release) }) // before the slave's own cleanup waits for its task loop
	waitOffered(t, base, "stuck", 1)
	start := time.Now()
	status, _, body := do(t, "POST", base+"/stuck", []byte("x"))
	want := fmt.Sprintf("within %s", 100*time.Millisecond+time.Second)
	if status != 504 || !strings.Contains(string(body), want) {
		t.Fatalf("%d %q, want 504 %s", status, body, want)
	}
	if d := time.Since(start); d < 100*time.Millisecond+time.Second {
		t.Fatalf("504 after %s, before the slave's limit and the grace passed", d)
	}
}
