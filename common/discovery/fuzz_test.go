package discovery

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
)

// FuzzGuardOpen: a guard never panics and, with a secret, accepts only a
// packet sealed with it, fresh, and new; the fuzzer's bytes are sealed under
// the key (with its timestamp offset and nonce) when seal is set, so that it
// gets past the MAC to the freshness and replay checks.
// fuzzSource is the sender of every fuzzed packet.
var fuzzSource = netip.MustParseAddr("10.0.0.2")

func FuzzGuardOpen(f *testing.F) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f.Add(packets.Encode(packets.JoinRequest{}), int64(0), uint64(1), true)
	f.Add(packets.Encode(packets.JoinReply{Accepted: true, Token: 9}), int64(-ReplayWindow/time.Millisecond), uint64(2), true)
	f.Add(packets.Encode(packets.JoinRequest{Monitor: true}), int64(ReplayWindow/time.Millisecond)+1, uint64(3), true)
	f.Add(packets.Encode(packets.JoinRequest{}), int64(0), uint64(0), false)
	f.Add([]byte{packets.Version, byte(packets.TypeSealed), 0, 0, 0, 0}, int64(0), uint64(0), false)
	f.Fuzz(func(t *testing.T, b []byte, offsetMillis int64, nonce uint64, seal bool) {
		plain := NewGuard("")
		if m, _, err := plain.Open(b, fuzzSource); err == nil {
			if !bytes.Equal(packets.Encode(m), b) {
				t.Fatalf("without a secret, %x opened as %#v", b, m)
			}
		}
		g := NewGuard("k")
		g.now = func() time.Time { return now }
		data := b
		if seal {
			data = sealRaw("k", now.Add(time.Duration(offsetMillis)*time.Millisecond), nonce, b)
		}
		m, _, err := g.Open(data, fuzzSource)
		if err != nil {
			return
		}
		if !seal {
			t.Fatalf("a guard with a secret accepted %x, not sealed by the test", data)
		}
		if d := time.Duration(offsetMillis) * time.Millisecond; d > ReplayWindow || d < -ReplayWindow {
			t.Fatalf("accepted a packet %s off", d)
		}
		if !bytes.Equal(packets.Encode(m), b) {
			t.Fatalf("sealed %x opened as %#v", b, m)
		}
		if _, _, err := g.Open(data, fuzzSource); !errors.Is(err, ErrReplay) {
			t.Fatalf("the same packet again: %v, want ErrReplay", err)
		}
	})
}
