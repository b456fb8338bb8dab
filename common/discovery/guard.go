package discovery

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
)

// Guard seals the handshake packets a node sends and opens those it
// receives. Without a secret it passes plain frames (the original design,
// trusting the LAN). With one it sends only sealed frames and accepts only
// sealed frames whose MAC checks out, whose timestamp is within Window of
// its own clock, and whose nonce it has not seen in that time: a stranger
// cannot join, answer as a master, or replay a captured packet.
type Guard struct {
	key    []byte
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	seen map[uint64]time.Time // nonce → when it may be forgotten
}

// ReplayWindow is how far a sealed packet's timestamp may be from the
// receiver's clock: node clocks must agree within it.
const ReplayWindow = 2 * time.Minute

// maxNonces bounds the replay memory; only holders of the secret can fill it.
const maxNonces = 1 << 16

var (
	// ErrStale means a sealed packet's timestamp is outside the window.
	ErrStale = errors.New("sealed packet too old or from the future (clocks must agree within 2 minutes)")
	// ErrReplay means a sealed packet's nonce was already seen.
	ErrReplay = errors.New("sealed packet replayed")
)

// NewGuard returns a guard for secret; an empty secret means none.
func NewGuard(secret string) *Guard {
	g := &Guard{window: ReplayWindow, now: time.Now, seen: make(map[uint64]time.Time)}
	if secret != "" {
		g.key = []byte(secret)
	}
	return g
}

// Secured reports whether a secret is set.
func (g *Guard) Secured() bool { return g.key != nil }

// Seal frames m for the wire: sealed with a fresh nonce when a secret is set.
func (g *Guard) Seal(m packets.Message) []byte {
	if g.key == nil {
		return packets.Encode(m)
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return packets.Seal(g.key, m, g.now(), binary.BigEndian.Uint64(b[:]))
}

// Open decodes a received datagram, enforcing the secret when one is set.
func (g *Guard) Open(b []byte) (packets.Message, error) {
	if g.key == nil {
		return packets.Decode(b)
	}
	m, at, nonce, err := packets.Open(g.key, b)
	if err != nil {
		return nil, err
	}
	now := g.now()
	if d := now.Sub(at); d > g.window || d < -g.window {
		return nil, fmt.Errorf("%w: %s off", ErrStale, d.Round(time.Millisecond))
	}
	if err := g.remember(nonce, now); err != nil {
		return nil, err
	}
	return m, nil
}

// remember records nonce until it could no longer pass the window check.
func (g *Guard) remember(nonce uint64, now time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if until, ok := g.seen[nonce]; ok && now.Before(until) {
		return ErrReplay
	}
	if len(g.seen) >= maxNonces {
		for n, until := range g.seen {
			if !now.Before(until) {
				delete(g.seen, n)
			}
		}
		if len(g.seen) >= maxNonces {
			return errors.New("too many fresh handshake packets to remember: refusing more")
		}
	}
	g.seen[nonce] = now.Add(2 * g.window)
	return nil
}
