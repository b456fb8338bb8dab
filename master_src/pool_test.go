package master

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/master_src/balance"
)

// newTestPool returns a pool of slaves with the given max loads, in order.
func newTestPool(t testing.TB, algo string, maxQueue int, maxLoads ...uint64) (*pool, []*member) {
	t.Helper()
	a, err := balance.New(algo)
	if err != nil {
		t.Fatal(err)
	}
	p := newPool(a, maxQueue, 0)
	var ms []*member
	for i, max := range maxLoads {
		s := newSession(peerKey{nodeKey: nodeKey{ID: uint16(i + 1)}}, 0, time.Time{})
		mb := newMember(s, packets.LoadReport{MaxLoad: max, Factor: 0.5})
		p.add(mb)
		ms = append(ms, mb)
	}
	return p, ms
}

func acquireNow(t *testing.T, p *pool, load uint64) (*member, error) {
	t.Helper()
	var skip []balance.Slave
	return p.acquire(context.Background(), 1, load, &skip, time.Now())
}

// Concurrent placements must see each other's reservations: with
// least_load, 30 tasks on 3 idle slaves land 10 on each, not all on the
// slave that looked least loaded at the last poll.
func TestPoolNoHerding(t *testing.T) {
	t.Parallel()
	for _, algo := range []string{"least_load", "round_robin"} {
		p, ms := newTestPool(t, algo, 10, 1000, 1000, 1000)
		var wg sync.WaitGroup
		for i := 0; i < 30; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := acquireNow(t, p, 10); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		for _, m := range ms {
			if m.fig.InFlight != 10 || m.fig.Committed != 100 {
				t.Errorf("%s: slave %s has %d tasks, load %d; want 10 and 100", algo, m.s.key.nodeKey, m.fig.InFlight, m.fig.Committed)
			}
		}
	}
}

func TestPoolCapacityRule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		algo     string
		maxLoads []uint64
		loads    []uint64 // placed in order, never released
		want     []int    // index of the slave each lands on, -1 for none
	}{
		{"first_available", []uint64{10, 10}, []uint64{6, 6, 4, 4, 1}, []int{0, 1, 0, 1, -1}},
		{"round_robin", []uint64{10, 100}, []uint64{20, 5, 5, 5}, []int{1, 0, 1, 0}},
		{"least_difference", []uint64{100, 20, 50}, []uint64{15, 15, 40, 100}, []int{1, 2, 0, -1}},
		{"least_load", []uint64{10, 10}, []uint64{11}, []int{-1}},
	}
	for _, tt := range tests {
		p, ms := newTestPool(t, tt.algo, 0, tt.maxLoads...)
		for i, load := range tt.loads {
			m, err := acquireNow(t, p, load)
			got := -1
			for j := range ms {
				if ms[j] == m {
					got = j
				}
			}
			if got != tt.want[i] {
				t.Errorf("%s: task %d (load %d) went to %d, want %d (err %v)", tt.algo, i, load, got, tt.want[i], err)
			}
			if got == -1 && !errors.Is(err, errQueueFull) {
				t.Errorf("%s: no room should fail at once with a zero-length queue, got %v", tt.algo, err)
			}
		}
	}
}

func TestPoolWaitsForRoom(t *testing.T) {
	t.Parallel()
	p, ms := newTestPool(t, "least_load", 1, 10)
	if _, err := acquireNow(t, p, 10); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		var skip []balance.Slave
		_, err := p.acquire(context.Background(), 1, 10, &skip, time.Now().Add(time.Minute))
		got <- err
	}()
	waitQueued(t, p, 1)
	// The queue holds one: a second waiter is turned away at once.
	var skip []balance.Slave
	if _, err := p.acquire(context.Background(), 1, 10, &skip, time.Now().Add(time.Minute)); !errors.Is(err, errQueueFull) {
		t.Fatalf("second waiter: %v, want errQueueFull", err)
	}
	p.release(ms[0], 10)
	if err := <-got; err != nil {
		t.Fatalf("waiter: %v", err)
	}
	if _, q := p.size(); q != 0 {
		t.Fatalf("queue length %d after the wait", q)
	}
}

func TestPoolWaitEnds(t *testing.T) {
	t.Parallel()
	p, _ := newTestPool(t, "least_load", 5, 10)
	var skip []balance.Slave
	if _, err := p.acquire(context.Background(), 1, 11, &skip, time.Now().Add(20*time.Millisecond)); !errors.Is(err, errNoCapacity) {
		t.Fatalf("deadline: %v, want errNoCapacity", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.acquire(ctx, 1, 11, &skip, time.Now().Add(time.Minute)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v, want context.Canceled", err)
	}
	if _, q := p.size(); q != 0 {
		t.Fatalf("queue length %d after the waits", q)
	}
}

// A slave that refused the task is passed over while others have room, and
// tried again once it is the only one left.
func TestPoolSkipsRefusers(t *testing.T) {
	t.Parallel()
	p, ms := newTestPool(t, "first_available", 5, 100, 100)
	skip := []balance.Slave{ms[0]}
	m, err := p.acquire(context.Background(), 1, 1, &skip, time.Now())
	if err != nil || m != ms[1] {
		t.Fatalf("got %v, %v; want the second slave", m, err)
	}
	skip = []balance.Slave{ms[0], ms[1]}
	go func() {
		waitQueued(t, p, 1)
		p.release(ms[1], 1)
	}()
	m, err = p.acquire(context.Background(), 1, 1, &skip, time.Now().Add(time.Minute))
	if err != nil || m != ms[0] {
		t.Fatalf("after waiting: got %v, %v; want the first slave again", m, err)
	}
}

func TestPoolRemoveWakesNobodyWrongly(t *testing.T) {
	t.Parallel()
	p, ms := newTestPool(t, "round_robin", 5, 100, 100)
	p.remove(ms[0])
	p.remove(ms[0])
	if n, _ := p.size(); n != 1 {
		t.Fatalf("size %d after removing one slave twice", n)
	}
	if poolHas(p, ms[0]) || !poolHas(p, ms[1]) {
		t.Fatal("contains disagrees with the pool")
	}
	m, err := acquireNow(t, p, 1)
	if err != nil || m != ms[1] {
		t.Fatalf("got %v, %v; want the remaining slave", m, err)
	}
}

func poolHas(p *pool, mb *member) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Contains(p.members, balance.Slave(mb))
}

func waitQueued(t *testing.T, p *pool, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, q := p.size(); q == n {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("queue never reached %d", n)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkAcquire measures a whole placement: building the candidates
// from the pool, the algorithm's choice and the reservation, then the
// release, for pools of 3, 100 and 1000 slaves.
func BenchmarkAcquire(b *testing.B) {
	for _, name := range balance.Names() {
		for _, n := range []int{3, 100, 1000} {
			maxLoads := make([]uint64, n)
			for i := range maxLoads {
				maxLoads[i] = 1 << 40
			}
			p, _ := newTestPool(b, name, 0, maxLoads...)
			b.Run(fmt.Sprintf("%s/%d", name, n), func(b *testing.B) {
				b.ReportAllocs()
				var skip []balance.Slave
				for b.Loop() {
					m, err := p.acquire(context.Background(), 1, 30, &skip, time.Time{})
					if err != nil {
						b.Fatal(err)
					}
					p.release(m, 30)
				}
			})
		}
	}
}

// A slave removed from the pool with tasks in flight hears of them later
// (released as lost, a late result, a late report): none of that may put it
// back in the algorithm's order.
func TestRemovedSlaveIsNeverPickedAgain(t *testing.T) {
	t.Parallel()
	for _, algo := range balance.Names() {
		p, ms := newTestPool(t, algo, 0, 1000, 1000)
		gone := ms[0]
		for gone.fig.InFlight == 0 { // put a task on the slave that will go
			m, err := acquireNow(t, p, 10)
			if err != nil {
				t.Fatal(err)
			}
			if m != gone {
				p.release(m, 10)
			}
		}
		p.remove(gone)
		p.release(gone, 10)
		p.observe(gone, 1, time.Millisecond, time.Millisecond, 10)
		p.report(gone, packets.LoadReport{MaxLoad: 1 << 40}, time.Now())
		for i := 0; i < 20; i++ {
			m, err := acquireNow(t, p, 10)
			if err != nil {
				t.Fatal(err)
			}
			if m == gone {
				t.Fatalf("%s: picked the slave that left the pool", algo)
			}
			p.release(m, 10)
		}
	}
}

// An answer frees its load; a result also feeds the slave's computing time
// (prequal, shortest_queue) and its last result (outlier detection), a NAK
// or a loss does not.
func TestPoolFinished(t *testing.T) {
	t.Parallel()
	p, ms := newTestPool(t, "round_robin", 0, 100)
	mb := ms[0]
	for _, c := range []struct {
		name    string
		result  bool
		service float64
	}{
		{"a NAK", false, 0},
		{"a result", true, 0.002},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := acquireNow(t, p, 10); err != nil {
				t.Fatal(err)
			}
			p.finished(mb, 1, 10, 5*time.Millisecond, 2*time.Millisecond, c.result)
			f := mb.Figures()
			if f.Committed != 0 || f.InFlight != 0 {
				t.Fatalf("committed %d, in flight %d after the answer; want 0 and 0", f.Committed, f.InFlight)
			}
			if f.Service != c.service {
				t.Errorf("service %v, want %v", f.Service, c.service)
			}
			if got := !mb.outlier.lastResult.IsZero(); got != c.result {
				t.Errorf("last result recorded: %v, want %v", got, c.result)
			}
		})
	}
}

// observe records a result's times on mb without freeing its load, under
// the lock, for tests that set a slave's figures directly.
func (p *pool) observe(mb *member, task uint8, rtt, compute time.Duration, load uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.observeLocked(mb, task, rtt, compute, load)
	p.trackLocked(mb)
}
