package discovery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
)

var src = netip.MustParseAddr("127.0.0.2")

func TestGuard(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	msg := packets.JoinReply{Accepted: true, Token: 42}
	sealedAt := func(key string, at time.Time, nonce uint64) []byte {
		return packets.Seal([]byte(key), msg, at, nonce)
	}
	tamper := func(b []byte) []byte {
		b = append([]byte(nil), b...)
		b[len(b)-40] ^= 1 // a byte of the inner frame
		return b
	}
	tests := []struct {
		name   string
		secret string
		frames [][]byte // opened in order; want applies to the last
		want   error    // nil: the last frame opens to msg
	}{
		{"no secret, plain", "", [][]byte{packets.Encode(msg)}, nil},
		{"no secret, sealed", "", [][]byte{sealedAt("s3cret", now, 1)}, packets.ErrMalformed},
		{"secret, sealed", "s3cret", [][]byte{sealedAt("s3cret", now, 1)}, nil},
		{"secret, plain", "s3cret", [][]byte{packets.Encode(msg)}, packets.ErrMalformed},
		{"secret, other secret", "s3cret", [][]byte{sealedAt("guess", now, 1)}, packets.ErrBadMAC},
		{"secret, tampered", "s3cret", [][]byte{tamper(sealedAt("s3cret", now, 1))}, packets.ErrBadMAC},
		{"secret, truncated", "s3cret", [][]byte{sealedAt("s3cret", now, 1)[:30]}, packets.ErrMalformed},
		{"secret, old", "s3cret", [][]byte{sealedAt("s3cret", now.Add(-ReplayWindow-time.Second), 1)}, ErrStale},
		{"secret, future", "s3cret", [][]byte{sealedAt("s3cret", now.Add(ReplayWindow+time.Second), 1)}, ErrStale},
		{"secret, edge of window", "s3cret", [][]byte{sealedAt("s3cret", now.Add(-ReplayWindow), 1)}, nil},
		{"secret, replay", "s3cret", [][]byte{sealedAt("s3cret", now, 7), sealedAt("s3cret", now, 7)}, ErrReplay},
		{"secret, two nonces", "s3cret", [][]byte{sealedAt("s3cret", now, 7), sealedAt("s3cret", now, 8)}, nil},
		{"secret, sealed in sealed", "s3cret", [][]byte{sealRaw("s3cret", now, 3, sealedAt("s3cret", now, 2))}, packets.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := NewGuard(tt.secret)
			g.now = func() time.Time { return now }
			var m packets.Message
			var err error
			for _, f := range tt.frames {
				m, _, err = g.Open(f, src)
			}
			if tt.want == nil {
				if err != nil || m != msg {
					t.Fatalf("Open = %#v, %v; want %#v", m, err, msg)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open = %#v, %v; want %v", m, err, tt.want)
			}
		})
	}
}

// sealRaw seals arbitrary inner bytes the way packets.Seal seals a frame.
func sealRaw(key string, at time.Time, nonce uint64, inner []byte) []byte {
	b := []byte{packets.Version, byte(packets.TypeSealed), 0, 0, 0, 0}
	b = binary.BigEndian.AppendUint64(b, uint64(at.UnixMilli()))
	b = binary.BigEndian.AppendUint64(b, nonce)
	b = append(b, inner...)
	binary.BigEndian.PutUint32(b[2:], uint32(len(b)-packets.HeaderSize+packets.MACSize))
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(b)
	return mac.Sum(b)
}

func TestGuardSealOpens(t *testing.T) {
	t.Parallel()
	a, b := NewGuard("k"), NewGuard("k")
	for i := 0; i < 100; i++ {
		if _, _, err := b.Open(a.Seal(packets.LoadRequest{Seq: uint32(i)}), src); err != nil {
			t.Fatalf("seal %d: %v", i, err)
		}
	}
	if !a.Secured() || NewGuard("").Secured() {
		t.Fatal("Secured disagrees with the secret")
	}
}

// The replay memory is bounded per source: a source that fills its share
// is refused, another source is not; a nonce replayed from another source
// is a fresh packet there (its reply goes to that source's address).
func TestReplayMemoryPerSource(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	r := newReplayMemory()
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	until := now.Add(4 * time.Minute)
	for i := range uint64(maxNoncesPerSource) {
		if err := r.remember(a, i, now, until); err != nil {
			t.Fatalf("nonce %d: %v", i, err)
		}
	}
	if err := r.remember(a, 1<<40, now, until); !errors.Is(err, ErrReplayMemoryFull) {
		t.Fatalf("a full source: %v, want ErrReplayMemoryFull", err)
	}
	if err := r.remember(b, 1<<40, now, until); err != nil {
		t.Fatalf("another source refused because the first is full: %v", err)
	}
	if err := r.remember(b, 1<<40, now, until); !errors.Is(err, ErrReplay) {
		t.Fatalf("a replay: %v, want ErrReplay", err)
	}
	if err := r.remember(a, 1<<40, until, until.Add(time.Minute)); err != nil {
		t.Fatalf("once its nonces expire, the source is heard again: %v", err)
	}
}

// Past maxReplaySources the least recently heard source is forgotten, never
// a newcomer refused.
func TestReplayMemoryEvictsSources(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	r := newReplayMemory()
	for i := range maxReplaySources + 10 {
		ip := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		if err := r.remember(ip, 1, now.Add(time.Duration(i)), now.Add(time.Hour)); err != nil {
			t.Fatalf("source %d refused: %v", i, err)
		}
	}
	if len(r.sources) != maxReplaySources {
		t.Fatalf("%d sources remembered, want %d", len(r.sources), maxReplaySources)
	}
	if _, ok := r.sources[netip.AddrFrom4([4]byte{10, 1, 0, 0})]; ok {
		t.Fatal("the least recently heard source was kept")
	}
}

func TestLogThrottle(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	th := NewLogThrottle(time.Minute, 2)
	steps := []struct {
		key, text string
		after     time.Duration
		want      bool
	}{
		{"a", "bad mac", 0, true},
		{"a", "bad mac", time.Second, false},
		{"a", "pool full", 2 * time.Second, true}, // the text changed
		{"b", "bad mac", 3 * time.Second, true},   // another key
		{"a", "pool full", time.Minute + 3*time.Second, true},
		{"c", "x", time.Minute + 4*time.Second, true}, // past the bound: one key forgotten, never refused
	}
	for i, s := range steps {
		if got := th.Allow(s.key, s.text, now.Add(s.after)); got != s.want {
			t.Fatalf("step %d (%s %q): Allow = %v, want %v", i, s.key, s.text, got, s.want)
		}
	}
	if len(th.last) > 2 {
		t.Fatalf("%d keys remembered, bound 2", len(th.last))
	}
}
