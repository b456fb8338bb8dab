// Package master is the master daemon: it serves task requests over HTTP,
// accepts slaves that find it by UDP broadcast, and places each task on a
// slave with the chosen load-balancing algorithm.
package master

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/lbproject/loadbalancer/common/config"
	"github.com/lbproject/loadbalancer/common/constants"
	"github.com/lbproject/loadbalancer/common/httpauth"
	"github.com/lbproject/loadbalancer/common/logger"
	"github.com/lbproject/loadbalancer/common/netif"
	"github.com/lbproject/loadbalancer/master_src/balance"
)

// Options configures a master. NewOptions gives the defaults.
type Options struct {
	// Algorithm names the load-balancing algorithm.
	Algorithm string
	// HTTPAddr is where the HTTP API listens.
	HTTPAddr string
	// ReadHeaderTimeout bounds how long a client may take to send its
	// request headers (and twice that for the whole request), so slow
	// clients cannot hold connections open.
	ReadHeaderTimeout time.Duration
	// DiscoveryAddr is where join requests are received (UDP).
	DiscoveryAddr string
	// Iface, when set, restricts discovery to that interface.
	Iface string
	// MaxSlaves caps the pool (joined plus joining).
	MaxSlaves int

	// PollInterval is how often each slave's load is polled; a slave that
	// does not answer within PollTimeout is removed.
	PollInterval time.Duration
	PollTimeout  time.Duration
	// JoinTimeout bounds a join from ACK to a slave in the pool.
	JoinTimeout time.Duration
	// MonitorTimeout frees the monitor slot when the monitor has asked
	// nothing for this long.
	MonitorTimeout time.Duration

	// QueueLength caps the requests waiting for a slave with room;
	// QueueWait bounds each wait. Past either: 503.
	QueueLength int
	QueueWait   time.Duration
	// ClientMaxQueued caps the requests of one client (source address)
	// waiting at once; past it: 429. 0: no cap.
	ClientMaxQueued int
	// TaskTimeout bounds a task from its first dispatch to its result,
	// re-dispatches included. Past it: 504.
	TaskTimeout time.Duration
	// MaxAttempts caps how many slaves one task is sent to when slaves are
	// lost under it (refusals do not count).
	MaxAttempts int
	// SlowStart is the span over which a slave that joins, or comes back
	// from ejection, warms up from a tenth of its share of tasks to all of
	// it (0: off).
	SlowStart time.Duration
	// FreeWorkers places by the worker slots slaves report: every
	// algorithm prefers a slave with a free worker. Off, the master places
	// as if no slave reported any (the textbook algorithms, which the lab
	// checks against queueing theory).
	FreeWorkers bool
	// TryTimeoutFloor is the least per-try timeout: a try slower than 10 ×
	// its task type's recent p99 (never less than the floor, never more
	// than TaskTimeout) is hedged, sent to a second slave as well.
	TryTimeoutFloor time.Duration
	// A slave whose tries time out or fail EjectAfter times in a row (0:
	// never) is ejected for EjectBase × its ejections so far, as long as
	// at most EjectMaxPercent of the pool is ejected at once.
	EjectAfter      int
	EjectBase       time.Duration
	EjectMaxPercent int
	// SlaveMaxUnfinished bounds the tasks a slave holds unfinished,
	// cancelled ones until it answers included (0: no bound); at the
	// bound it takes no more.
	SlaveMaxUnfinished int

	// The status page and its API: LoadHistory is how many load reports
	// per slave are kept for its load chart, RecentTasks how many finished
	// tasks are listed, LostSlaveTTL how long a lost slave stays listed
	// (in state "lost").
	LoadHistory  int
	RecentTasks  int
	LostSlaveTTL time.Duration

	// Secret, when set, authenticates every handshake packet (HMAC); all
	// nodes of a cluster must share it.
	Secret string
	// HandshakeRate and HandshakeBurst bound the handshake packets handled
	// per source IP (a join is 1 request and 10 confirms).
	HandshakeRate  float64
	HandshakeBurst int

	// HTTP optionally serves the API over TLS and requires a bearer token.
	HTTP httpauth.Config

	Log *logger.Logger
}

// NewOptions returns the defaults.
func NewOptions() Options {
	return Options{
		Algorithm:          balance.Default,
		HTTPAddr:           fmt.Sprintf(":%d", constants.HTTPPort),
		DiscoveryAddr:      fmt.Sprintf(":%d", constants.DiscoveryPort),
		MaxSlaves:          30,
		ReadHeaderTimeout:  5 * time.Second,
		PollInterval:       time.Second,
		PollTimeout:        2 * time.Second,
		JoinTimeout:        5 * time.Second,
		MonitorTimeout:     time.Minute,
		QueueLength:        1024,
		QueueWait:          10 * time.Second,
		TaskTimeout:        60 * time.Second,
		MaxAttempts:        3,
		FreeWorkers:        true,
		TryTimeoutFloor:    50 * time.Millisecond,
		EjectAfter:         3,
		EjectBase:          30 * time.Second,
		EjectMaxPercent:    50,
		SlaveMaxUnfinished: 64,
		HandshakeRate:      50,
		HandshakeBurst:     100,
		LoadHistory:        180,
		RecentTasks:        100,
		LostSlaveTTL:       30 * time.Second,
		Log:                logger.Discard(),
	}
}

// Validate checks o, as New does first; its errors are configuration
// mistakes (config.Invalid).
func (o Options) Validate() error {
	if err := o.check(); err != nil {
		return config.Invalid(err)
	}
	return nil
}

func (o Options) check() error {
	if _, err := balance.New(o.Algorithm); err != nil {
		return err
	}
	switch {
	case o.ReadHeaderTimeout <= 0:
		return fmt.Errorf("read header timeout must be positive")
	case o.MaxSlaves < 1:
		return fmt.Errorf("max slaves must be at least 1, got %d", o.MaxSlaves)
	case o.PollInterval <= 0 || o.PollTimeout <= 0:
		return fmt.Errorf("poll interval and timeout must be positive")
	case o.QueueLength < 0 || o.QueueWait < 0 || o.ClientMaxQueued < 0:
		return fmt.Errorf("queue length, queue wait and client max queued must not be negative")
	case o.SlowStart < 0:
		return fmt.Errorf("slow start must not be negative, got %s", o.SlowStart)
	case o.TaskTimeout <= 0 || o.JoinTimeout <= 0 || o.MonitorTimeout <= 0:
		return fmt.Errorf("task, join and monitor timeouts must be positive")
	case o.HandshakeRate <= 0 || o.HandshakeBurst < 1:
		return fmt.Errorf("handshake rate and burst must be positive")
	case o.MaxAttempts < 1:
		return fmt.Errorf("max attempts must be at least 1, got %d", o.MaxAttempts)
	case o.TryTimeoutFloor < 0 || o.EjectAfter < 0 || o.EjectBase < 0 || o.SlaveMaxUnfinished < 0:
		return fmt.Errorf("try timeout floor, eject after, eject base and slave max unfinished must not be negative")
	case o.EjectMaxPercent < 0 || o.EjectMaxPercent > 100:
		return fmt.Errorf("eject max percent must be from 0 to 100, got %d", o.EjectMaxPercent)
	case o.LoadHistory < 0 || o.RecentTasks < 0 || o.LostSlaveTTL < 0:
		return fmt.Errorf("load history, recent tasks and lost slave TTL must not be negative")
	}
	return nil
}

// unreachableByBroadcast explains why slaves' broadcasts cannot reach a
// discovery socket bound to addr, or returns "". The kernel delivers a
// broadcast only to sockets bound to the wildcard address or to that
// broadcast address: one bound to a host's own address (127.0.0.1:3000,
// 10.0.5.1:3000) hears unicast joins (-master) and nothing else.
func unreachableByBroadcast(addr string, localPrefixes []netip.Prefix) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return ""
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.IsUnspecified() || ip == netip.IPv4Unspecified() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return "" // a name is resolved by the listener; let it be
	}
	for _, p := range localPrefixes {
		if p.Addr().Is4() && netif.BroadcastOf(p) == ip && p.Bits() < 31 {
			return ""
		}
	}
	return fmt.Sprintf("discovery bound to %s hears no broadcast: slaves find this master only with -master; "+
		"bind to :%s (with -iface to pick the interface) for plug-and-play joins", host, portOf(addr))
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// localPrefixes lists this host's interface addresses with their prefixes.
func localPrefixes() []netip.Prefix {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Prefix
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if p, err := netip.ParsePrefix(n.String()); err == nil {
				out = append(out, p)
			}
		}
	}
	return out
}
