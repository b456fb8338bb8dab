package master

import (
	"context"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lbproject/loadbalancer/master_src/balance"
)

// waiter is a request waiting in the pool's queue for a slave with room.
// Its fields are the pool's, under the pool's lock, except placed.
type waiter struct {
	task uint8
	load uint64
	skip *[]balance.Slave // the request's refusers; the request does not touch it while queued

	// placed receives the slave reserved for the request, once, under the
	// pool's lock; buffered, so a hand-off never blocks.
	placed chan *member

	cq         *clientQueue // nil once the waiter has left the queue
	prev, next *waiter      // in its client's queue, oldest first
}

// clientQueue is one client's waiters, oldest first.
type clientQueue struct {
	client     netip.Addr
	head, tail *waiter
	n          int
	prev, next *clientQueue // in the ring of clients with waiters
}

// waitQueue holds the requests waiting for room, first come first served
// within each client, the clients taking turns round robin, so a client
// flooding the master cannot push another client's requests behind all of
// its own. Guarded by the pool's lock; every operation is O(1).
type waitQueue struct {
	clients map[netip.Addr]*clientQueue // those with waiters
	turn    *clientQueue                // the client served next; nil when none waits
	n       int                         // waiters in all
}

func newWaitQueue() waitQueue {
	return waitQueue{clients: make(map[netip.Addr]*clientQueue)}
}

// queuedBy returns how many requests of client wait.
func (q *waitQueue) queuedBy(client netip.Addr) int {
	if cq := q.clients[client]; cq != nil {
		return cq.n
	}
	return 0
}

// push queues w last among client's waiters. A client new to the queue
// joins the ring just before the one whose turn it is: it is served after
// every client already waiting has had a turn.
func (q *waitQueue) push(w *waiter, client netip.Addr) {
	cq := q.clients[client]
	if cq == nil {
		cq = &clientQueue{client: client}
		q.clients[client] = cq
		if q.turn == nil {
			cq.prev, cq.next = cq, cq
			q.turn = cq
		} else {
			cq.prev, cq.next = q.turn.prev, q.turn
			cq.prev.next, q.turn.prev = cq, cq
		}
	}
	w.cq, w.prev, w.next = cq, cq.tail, nil
	if cq.tail != nil {
		cq.tail.next = w
	} else {
		cq.head = w
	}
	cq.tail = w
	cq.n++
	q.n++
}

// remove takes w out of the queue; a client left without waiters leaves
// the ring (its turn passes to the next).
func (q *waitQueue) remove(w *waiter) {
	cq := w.cq
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		cq.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		cq.tail = w.prev
	}
	w.cq, w.prev, w.next = nil, nil, nil
	cq.n--
	q.n--
	if cq.n > 0 {
		return
	}
	delete(q.clients, cq.client)
	if cq.next == cq {
		q.turn = nil
		return
	}
	cq.prev.next, cq.next.prev = cq.next, cq.prev
	if q.turn == cq {
		q.turn = cq.next
	}
}

// clientKey carries the request's client (its source address) in the
// context, from the HTTP handler down to the pool's queue.
type clientKey struct{}

// withClient returns ctx carrying client.
func withClient(ctx context.Context, client netip.Addr) context.Context {
	return context.WithValue(ctx, clientKey{}, client)
}

// clientOf returns the client ctx carries; the zero address (one shared
// queue) when it carries none.
func clientOf(ctx context.Context) netip.Addr {
	c, _ := ctx.Value(clientKey{}).(netip.Addr)
	return c
}

// queueWaits times the waits in the queue, by how they ended: placed (a
// slave was reserved), gave_up (-queue-wait passed or the client left).
type queueWaits struct {
	vec            *prometheus.HistogramVec
	placed, gaveUp prometheus.Observer
}

func newQueueWaits() queueWaits {
	vec := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "master_queue_wait_seconds",
		Help:    "Time task requests waited in the queue for a slave with room, by outcome: placed or gave_up (-queue-wait passed, or the client left).",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
	}, []string{"outcome"})
	return queueWaits{vec: vec, placed: vec.WithLabelValues("placed"), gaveUp: vec.WithLabelValues("gave_up")}
}
