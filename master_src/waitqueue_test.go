package master

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/master_src/balance"
)

// client returns a test client's address, 10.0.0.i.
func client(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}) }

// mustQueue queues a request of client for a task of type 1 and load; it
// must find no room.
func mustQueue(t testing.TB, p *pool, c netip.Addr, load uint64) *waiter {
	t.Helper()
	var skip []balance.Slave
	mb, w, err := p.enter(c, 1, load, &skip)
	if w == nil {
		t.Fatalf("request of %s (load %d) was not queued: %v, %v", c, load, mb, err)
	}
	return w
}

// handed returns the slave w was handed, nil if none: hand-offs happen
// under the pool's lock, so once the call that made room returns, every
// waiter it placed has its slave.
func handed(w *waiter) *member {
	select {
	case mb := <-w.placed:
		w.placed <- mb
		return mb
	default:
		return nil
	}
}

// placedOf returns the indices of the waiters placed.
func placedOf(ws []*waiter) []int {
	var out []int
	for i, w := range ws {
		if handed(w) != nil {
			out = append(out, i)
		}
	}
	return out
}

// fullPool returns a one-slave pool with room for slots tasks of load 1,
// all taken.
func fullPool(t *testing.T, slots int) (*pool, *member) {
	t.Helper()
	p, ms := newTestPool(t, "least_load", 10000, uint64(slots))
	for range slots {
		if _, err := acquireNow(t, p, 1); err != nil {
			t.Fatal(err)
		}
	}
	return p, ms[0]
}

// Within a client, waiters are placed oldest first, one per task finished:
// a release wakes one waiter, never all.
func TestQueueFIFOWithinClient(t *testing.T) {
	t.Parallel()
	p, mb := fullPool(t, 1)
	var ws []*waiter
	for range 5 {
		ws = append(ws, mustQueue(t, p, client(1), 1))
	}
	for i := range ws {
		p.release(mb, 1)
		if got := placedOf(ws); len(got) != i+1 || got[i] != i {
			t.Fatalf("after %d releases the waiters placed are %v, want 0..%d in order", i+1, got, i)
		}
		if _, q := p.size(); q != len(ws)-i-1 {
			t.Fatalf("queue length %d after %d releases", q, i+1)
		}
	}
}

// A client that queued 100 requests does not push another client's one
// request behind them: the clients take turns.
func TestQueueFairBetweenClients(t *testing.T) {
	t.Parallel()
	p, mb := fullPool(t, 1)
	var flood []*waiter
	for range 100 {
		flood = append(flood, mustQueue(t, p, client(1), 1))
	}
	other := mustQueue(t, p, client(2), 1)
	for i := 1; handed(other) == nil; i++ {
		if i > 2 {
			t.Fatalf("the other client's request is not placed after %d placements", i-1)
		}
		p.release(mb, 1)
	}
	if got := placedOf(flood); len(got) > 1 {
		t.Fatalf("the flooding client had %v placed before the other client's one request", got)
	}
}

// First come first served among those that fit: a waiter too big for the
// room does not hold back a smaller one behind it that fits, of its own
// client or of another.
func TestQueuePlacesWaitersThatFit(t *testing.T) {
	t.Parallel()
	for _, sameClient := range []bool{true, false} {
		p, ms := newTestPool(t, "least_load", 100, 10)
		for range 2 {
			if _, err := acquireNow(t, p, 5); err != nil {
				t.Fatal(err)
			}
		}
		big := mustQueue(t, p, client(1), 10)
		smallClient := client(1)
		if !sameClient {
			smallClient = client(2)
		}
		small := mustQueue(t, p, smallClient, 5)
		p.release(ms[0], 5)
		if handed(small) != ms[0] || handed(big) != nil {
			t.Fatalf("same client %v: small placed on %v, big on %v; want only the small one", sameClient, handed(small), handed(big))
		}
		p.release(ms[0], 5)
		if handed(big) != nil {
			t.Fatalf("same client %v: big placed with the small one still running", sameClient)
		}
		p.release(ms[0], 5)
		if handed(big) != ms[0] {
			t.Fatalf("same client %v: big not placed once the slave is free", sameClient)
		}
	}
}

// A newcomer does not jump the queue while a waiter that fits is there:
// when room appears with waiters queued, they are placed first.
func TestQueueNoJumping(t *testing.T) {
	t.Parallel()
	p, mb := fullPool(t, 1)
	w := mustQueue(t, p, client(1), 1)
	// Room appears and is handed at once to the waiter.
	p.release(mb, 1)
	if handed(w) != mb {
		t.Fatal("the waiter was not handed the room")
	}
	// A newcomer finds no room (the waiter holds it) and queues.
	late := mustQueue(t, p, client(2), 1)
	if handed(late) != nil {
		t.Fatal("a newcomer was placed on room already handed out")
	}
}

// Room that appears other than by a release is handed to the queue too: a
// slave that reports a higher max load, a slave that joins. A report that
// changes nothing places nobody.
func TestQueueWokenByNewRoom(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		room func(p *pool, full *member) *member // makes room, on the slave it returns
	}{
		{"raised max load", func(p *pool, full *member) *member {
			p.report(full, packets.LoadReport{MaxLoad: 2, Factor: 0.5}, time.Now())
			return full
		}},
		{"a slave joins", func(p *pool, _ *member) *member {
			mb := newMember(newSession(peerKey{nodeKey: nodeKey{ID: 9}}, 0, time.Time{}), packets.LoadReport{MaxLoad: 1})
			p.add(mb)
			return mb
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, full := fullPool(t, 1)
			w := mustQueue(t, p, client(1), 1)
			p.report(full, packets.LoadReport{MaxLoad: 1, Factor: 0.5}, time.Now()) // unchanged
			if handed(w) != nil {
				t.Fatal("placed without room")
			}
			if mb := tc.room(p, full); handed(w) != mb {
				t.Fatalf("not placed on the new room: handed %v", handed(w))
			}
		})
	}
}

func TestQueueCaps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                string
		maxQueue, clientMax int
		queue               []int // clients that queue, in order
		next                int   // the client that then asks
		want                error
	}{
		{"client at its cap", 10, 2, []int{1, 1}, 1, errClientQueueFull},
		{"another client under its cap", 10, 2, []int{1, 1}, 2, nil},
		{"no client cap", 10, 0, []int{1, 1, 1}, 1, nil},
		{"queue full", 2, 5, []int{1, 2}, 3, errQueueFull},
		{"client cap before the queue's", 2, 2, []int{1, 1}, 1, errClientQueueFull},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := fullPool(t, 1)
			p.maxQueue, p.clientMaxQueued = tt.maxQueue, tt.clientMax
			for _, c := range tt.queue {
				mustQueue(t, p, client(c), 1)
			}
			var skip []balance.Slave
			_, w, err := p.enter(client(tt.next), 1, 1, &skip)
			if !errors.Is(err, tt.want) || (err == nil) != (w != nil) {
				t.Fatalf("got waiter %v, error %v; want error %v", w != nil, err, tt.want)
			}
		})
	}
}

// A request that stops waiting never keeps a reservation: not when it
// leaves the queue, and not when it was handed a slave as its client left.
func TestQueueLeavingLeaksNothing(t *testing.T) {
	t.Parallel()
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	p, mb := fullPool(t, 1)

	w := mustQueue(t, p, client(1), 1)
	if got, err := p.await(gone, w, time.Now().Add(time.Minute)); got != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled while queued: %v, %v", got, err)
	}
	w = mustQueue(t, p, client(1), 1)
	if got, err := p.await(context.Background(), w, time.Now()); got != nil || !errors.Is(err, errNoCapacity) {
		t.Fatalf("deadline while queued: %v, %v", got, err)
	}
	if _, q := p.size(); q != 0 {
		t.Fatalf("queue length %d after both left", q)
	}

	w = mustQueue(t, p, client(1), 1)
	p.release(mb, 1) // hands the slave to w
	if handed(w) != mb {
		t.Fatal("not handed the slave")
	}
	if got, err := p.await(gone, w, time.Now().Add(time.Minute)); got != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled after the hand-off: %v, %v", got, err)
	}
	if mb.fig.Committed != 0 || mb.fig.InFlight != 0 {
		t.Fatalf("committed %d, in flight %d after the placed request left; want 0", mb.fig.Committed, mb.fig.InFlight)
	}
}

// Under concurrent placements, releases and clients leaving, every
// reservation is given back.
func TestQueueConcurrentNoLeak(t *testing.T) {
	t.Parallel()
	p, ms := newTestPool(t, "least_load", 10000, 3, 2)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithCancel(withClient(context.Background(), client(i%7)))
			defer cancel()
			if i%3 == 0 {
				cancel() // leaves at once, queued or not
			}
			var skip []balance.Slave
			mb, err := p.acquire(ctx, 1, 1, &skip, time.Now().Add(time.Minute))
			if err == nil {
				p.release(mb, 1)
			} else if !errors.Is(err, context.Canceled) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, mb := range ms {
		if mb.fig.Committed != 0 || mb.fig.InFlight != 0 {
			t.Fatalf("slave %s: committed %d, in flight %d; want 0", mb.s.key.nodeKey, mb.fig.Committed, mb.fig.InFlight)
		}
	}
	if _, q := p.size(); q != 0 {
		t.Fatalf("queue length %d", q)
	}
}

// BenchmarkHandOff measures a release handing its room to the oldest of
// 1000 waiters (from 1 client or 1000), and a new request queueing behind
// them.
func BenchmarkHandOff(b *testing.B) {
	for _, clients := range []int{1, 1000} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			p, ms := newTestPool(b, "least_load", 1<<20, 2)
			var skip []balance.Slave
			for range 2 {
				if _, _, err := p.enter(client(0), 1, 1, &skip); err != nil {
					b.Fatal(err)
				}
			}
			for i := range 1000 {
				mustQueue(b, p, client(i%clients), 1)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p.release(ms[0], 1)
				mustQueue(b, p, client(i%clients), 1)
				i++
			}
		})
	}
}

// ring lists the clients with waiters from the one whose turn it is.
func ring(q *waitQueue) []netip.Addr {
	var out []netip.Addr
	for cq := q.turn; cq != nil; cq = cq.next {
		if cq.next.prev != cq {
			panic("the ring's links disagree")
		}
		out = append(out, cq.client)
		if cq.next == q.turn || len(out) > len(q.clients) {
			break
		}
	}
	return out
}

// The ring of clients at its edges: a newcomer is served after every client
// already waiting, and a client leaving on its turn passes the turn on.
func TestWaitQueueRing(t *testing.T) {
	t.Parallel()
	a, b, c, d := client(1), client(2), client(3), client(4)
	tests := []struct {
		name string
		ops  func(q *waitQueue, ws map[netip.Addr]*waiter)
		want []netip.Addr
	}{
		{"newcomers in arrival order", func(*waitQueue, map[netip.Addr]*waiter) {}, []netip.Addr{a, b, c}},
		{"the client on its turn leaves", func(q *waitQueue, ws map[netip.Addr]*waiter) { q.remove(ws[a]) }, []netip.Addr{b, c}},
		{"a newcomer after a turn passed on", func(q *waitQueue, ws map[netip.Addr]*waiter) {
			q.remove(ws[a])
			q.push(&waiter{}, d)
		}, []netip.Addr{b, c, d}},
		{"a client off its turn leaves", func(q *waitQueue, ws map[netip.Addr]*waiter) { q.remove(ws[b]) }, []netip.Addr{a, c}},
		{"the last leave", func(q *waitQueue, ws map[netip.Addr]*waiter) {
			for _, w := range ws {
				q.remove(w)
			}
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := newWaitQueue()
			ws := map[netip.Addr]*waiter{}
			for _, cl := range []netip.Addr{a, b, c} {
				ws[cl] = &waiter{}
				q.push(ws[cl], cl)
			}
			tc.ops(&q, ws)
			if got := ring(&q); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("ring from the turn %v, want %v", got, tc.want)
			}
		})
	}
}

// A waiter that fits is not passed over for another task type's lack of
// room: no room for one task says nothing of a task that other slaves offer.
func TestHandOffNoRoomIsPerTask(t *testing.T) {
	t.Parallel()
	p, ms := newTestPool(t, "least_load", 100, 1, 1)
	var only1, only2 balance.TaskSet
	only1.Add(1)
	only2.Add(2)
	p.setOffers(ms[0], only1)
	p.setOffers(ms[1], only2)
	if _, err := acquireNow(t, p, 1); err != nil { // task 1: ms[0] full
		t.Fatal(err)
	}
	var skip1, skip2 []balance.Slave
	if mb, w, _ := p.enter(client(1), 1, 1, &skip1); mb != nil || w == nil {
		t.Fatal("a task 1 with its only slave full was not queued")
	}
	// Task 2 fits on ms[1], but queues behind the waiter (no jumping) and
	// is handed the room at once.
	mb, w2, _ := p.enter(client(2), 2, 1, &skip2)
	if mb == nil && (w2 == nil || handed(w2) != ms[1]) {
		t.Fatal("task 2 was not placed on the slave offering it: the hand-off took task 1's lack of room for its own")
	}
}

// A newcomer never jumps the queue, even to room a hand-off left unused:
// here the budget of one hand-off went on a client's eight waiters of eight
// task types that do not fit, before it reached the waiter that does.
func TestQueueNoJumpingPastTheBudget(t *testing.T) {
	t.Parallel()
	p, ms := newTestPool(t, "least_load", 100, 10)
	var all balance.TaskSet
	for task := uint8(1); task <= maxHandOffPicks+1; task++ {
		all.Add(task)
	}
	p.setOffers(ms[0], all)
	if _, err := acquireNow(t, p, 10); err != nil {
		t.Fatal(err)
	}
	for task := uint8(2); task <= maxHandOffPicks+1; task++ {
		var skip []balance.Slave
		if _, w, _ := p.enter(client(1), task, 10, &skip); w == nil {
			t.Fatalf("task %d on a full slave was not queued", task)
		}
	}
	fits := mustQueue(t, p, client(2), 1)
	p.release(ms[0], 1) // room for a load of 1, which only fits reaches
	if handed(fits) != nil {
		t.Skip("the hand-off reached the waiter that fits: the budget no longer stops it, and nothing is left to jump")
	}
	var skip []balance.Slave
	if mb, _, _ := p.enter(client(3), 1, 1, &skip); mb != nil {
		t.Fatal("a newcomer was placed while an older request that fits waits")
	}
	// The next hand-off starts after the client whose waiters spent the
	// budget: the one that fits is placed, not starved until -queue-wait.
	p.setOffers(ms[0], all)
	if handed(fits) == nil {
		t.Fatal("the waiter that fits was not placed by the next hand-off: one client's waiters that do not fit spend every budget")
	}
}
