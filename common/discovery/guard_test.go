package discovery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
)

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
				m, err = g.Open(f)
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
		if _, err := b.Open(a.Seal(packets.LoadRequest{Seq: uint32(i)})); err != nil {
			t.Fatalf("seal %d: %v", i, err)
		}
	}
	if !a.Secured() || NewGuard("").Secured() {
		t.Fatal("Secured disagrees with the secret")
	}
}
