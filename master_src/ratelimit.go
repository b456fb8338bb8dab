package master

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// sourceLimiter bounds the handshake packets the master handles per source
// IP, so a flood from one host cannot starve the others' joins. Its memory is
// bounded too: at most maxSources sources are tracked, and past that idle
// ones are forgotten, or else an arbitrary one: a new source is never
// refused (strangers filling the table must not lock newcomers out; a
// forgotten source merely starts again with a full burst).
type sourceLimiter struct {
	rate  rate.Limit
	burst int

	mu      sync.Mutex
	sources map[netip.Addr]*source
}

type source struct {
	lim      *rate.Limiter
	lastSeen time.Time
}

const (
	maxSources       = 4096
	sourceIdleExpiry = time.Minute
)

func newSourceLimiter(perSecond float64, burst int) *sourceLimiter {
	return &sourceLimiter{rate: rate.Limit(perSecond), burst: burst, sources: make(map[netip.Addr]*source)}
}

// allow reports whether a packet from ip may be handled now.
func (l *sourceLimiter) allow(ip netip.Addr, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.sources[ip]
	if !ok {
		if len(l.sources) >= maxSources {
			for a, s := range l.sources {
				if now.Sub(s.lastSeen) > sourceIdleExpiry {
					delete(l.sources, a)
				}
			}
			for a := range l.sources {
				if len(l.sources) < maxSources {
					break
				}
				delete(l.sources, a)
			}
		}
		s = &source{lim: rate.NewLimiter(l.rate, l.burst)}
		l.sources[ip] = s
	}
	s.lastSeen = now
	return s.lim.AllowN(now, 1)
}
