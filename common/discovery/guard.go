package discovery

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/common/securelink"
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
	seen   *replayMemory
}

// ReplayWindow is how far a sealed packet's timestamp may be from the
// receiver's clock: node clocks must agree within it.
const ReplayWindow = 2 * time.Minute

var (
	// ErrStale means a sealed packet's timestamp is outside the window.
	ErrStale = errors.New("sealed packet too old or from the future (clocks must agree within 2 minutes)")
	// ErrReplay means a sealed packet's nonce was already seen.
	ErrReplay = errors.New("sealed packet replayed")
)

// NewGuard returns a guard for secret; an empty secret means none.
func NewGuard(secret string) *Guard {
	g := &Guard{window: ReplayWindow, now: time.Now, seen: newReplayMemory()}
	if secret != "" {
		g.key = []byte(secret)
	}
	return g
}

// Secured reports whether a secret is set.
func (g *Guard) Secured() bool { return g.key != nil }

// Seal frames m for the wire: sealed with a fresh nonce when a secret is set.
func (g *Guard) Seal(m packets.Message) []byte {
	b, _ := g.SealNonce(m)
	return b
}

// SealNonce is Seal, also returning the nonce sealed in (0 without a
// secret): replies name the request's, and link keys derive from both.
func (g *Guard) SealNonce(m packets.Message) ([]byte, uint64) {
	if g.key == nil {
		return packets.Encode(m), 0
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	nonce := binary.BigEndian.Uint64(b[:])
	return packets.Seal(g.key, m, g.now(), nonce), nonce
}

// Open decodes a datagram received from src, enforcing the secret when one
// is set, and returns its nonce (0 without a secret). The MAC is checked
// before anything is remembered about src.
func (g *Guard) Open(b []byte, src netip.Addr) (packets.Message, uint64, error) {
	if g.key == nil {
		m, err := packets.Decode(b)
		return m, 0, err
	}
	m, at, nonce, err := packets.Open(g.key, b)
	if err != nil {
		return nil, 0, err
	}
	now := g.now()
	if d := now.Sub(at); d > g.window || d < -g.window {
		return nil, 0, fmt.Errorf("%w: %s off", ErrStale, d.Round(time.Millisecond))
	}
	if err := g.seen.remember(src, nonce, now, now.Add(2*g.window)); err != nil {
		return nil, 0, err
	}
	return m, nonce, nil
}

// LinkSession returns the key material for the links of the join whose
// request and accepting reply were sealed with these nonces; nil without a
// secret (the links stay plain).
func (g *Guard) LinkSession(requestNonce, replyNonce uint64) *securelink.Session {
	if g.key == nil {
		return nil
	}
	return securelink.NewSession(g.key, requestNonce, replyNonce)
}
