package discovery

import (
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/lbproject/loadbalancer/common/packets"
)

// Join, AcceptLink and the hello readers start goroutines: none may outlive
// the call that started it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// A nonce is remembered for twice the window, so a replay inside the window
// is refused whichever side of the receiver's clock its timestamp is on.
func TestGuardReplayAtTheWindowsEdge(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	g := NewGuard("k")
	clock := now
	g.now = func() time.Time { return clock }
	p := packets.Seal([]byte("k"), packets.JoinRequest{}, now.Add(-g.window), 9) // as old as may be
	if _, _, err := g.Open(p, fuzzSource); err != nil {
		t.Fatal(err)
	}
	clock = now.Add(-2 * g.window) // the receiver's clock stepped back: the packet now looks early
	if _, _, err := g.Open(p, fuzzSource); !errors.Is(err, ErrReplay) {
		t.Fatalf("a replay with the clock stepped back: %v, want ErrReplay", err)
	}
}

// Retries spread by ±20%, never more.
func TestJitterBounds(t *testing.T) {
	t.Parallel()
	const d = time.Second
	lo, hi := d, time.Duration(0)
	for i := 0; i < 10000; i++ {
		j := jitter(d)
		lo, hi = min(lo, j), max(hi, j)
	}
	if lo < d*8/10 || hi > d*12/10 {
		t.Fatalf("jitter(%s) ranged over [%s, %s], want within [%s, %s]", d, lo, hi, d*8/10, d*12/10)
	}
	if lo > d*85/100 || hi < d*115/100 {
		t.Fatalf("jitter(%s) ranged over [%s, %s] only: it does not spread", d, lo, hi)
	}
}
