package discovery

import (
	"errors"
	"net/netip"
	"sync"
	"time"
)

// replayMemory remembers the nonces of authenticated packets per source IP,
// until they could no longer pass the timestamp check. Only holders of the
// secret can add to it (the MAC is checked first), and each source has a
// bound of its own: a source that fills its share is refused until its
// nonces expire, and never crowds out another source.
type replayMemory struct {
	mu      sync.Mutex
	sources map[netip.Addr]*nonceSet
}

type nonceSet struct {
	until    map[uint64]time.Time // nonce → when it may be forgotten
	lastSeen time.Time
}

const (
	// maxNoncesPerSource bounds one source's memory. A node sends 11
	// packets per join and backs off to one request every 2 s when
	// refused: about 1,500 nonces in the 4 minutes they are kept, for 30
	// slaves sharing a host a few joins each.
	maxNoncesPerSource = 4096
	// maxReplaySources bounds how many sources are remembered; past it the
	// one heard from least recently is forgotten (its old packets could
	// then be replayed, which the handshake's other checks make harmless:
	// a reply goes only to the address a request names, and a node accepts
	// only the reply to its latest request).
	maxReplaySources = 1024
)

// ErrReplayMemoryFull means one source sent more fresh packets than the
// replay memory keeps for a source.
var ErrReplayMemoryFull = errors.New("too many fresh handshake packets from this source to remember")

func newReplayMemory() *replayMemory {
	return &replayMemory{sources: make(map[netip.Addr]*nonceSet)}
}

// remember records nonce from src until until; it fails if the nonce was
// already seen from src, or src's share is full of unexpired nonces.
func (r *replayMemory) remember(src netip.Addr, nonce uint64, now, until time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sources[src]
	if !ok {
		if len(r.sources) >= maxReplaySources {
			r.evictLeastRecent()
		}
		s = &nonceSet{until: make(map[uint64]time.Time)}
		r.sources[src] = s
	}
	s.lastSeen = now
	if u, ok := s.until[nonce]; ok && now.Before(u) {
		return ErrReplay
	}
	if len(s.until) >= maxNoncesPerSource {
		for n, u := range s.until {
			if !now.Before(u) {
				delete(s.until, n)
			}
		}
		if len(s.until) >= maxNoncesPerSource {
			return ErrReplayMemoryFull
		}
	}
	s.until[nonce] = until
	return nil
}

func (r *replayMemory) evictLeastRecent() {
	var oldest netip.Addr
	var at time.Time
	for a, s := range r.sources {
		if !oldest.IsValid() || s.lastSeen.Before(at) {
			oldest, at = a, s.lastSeen
		}
	}
	delete(r.sources, oldest)
}
