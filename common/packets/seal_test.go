package packets_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
)

var sealKey = []byte("cluster secret")

func TestSealRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.UnixMilli(1_790_000_000_123)
	for _, c := range smallCorpus(1 << 12) {
		b := packets.Seal(sealKey, c.m, at, 99)
		m, gotAt, nonce, err := packets.Open(sealKey, b)
		if err != nil || !sameMessage(m, c.m) || !gotAt.Equal(at) || nonce != 99 {
			t.Fatalf("%s: Open = %#v, %v, %d, %v", c.name, m, gotAt, nonce, err)
		}
		if _, _, _, err := packets.Open([]byte("other"), b); !errors.Is(err, packets.ErrBadMAC) {
			t.Fatalf("%s: another key: %v, want ErrBadMAC", c.name, err)
		}
		if _, err := packets.Decode(b); !errors.Is(err, packets.ErrMalformed) {
			t.Fatalf("%s: Decode of a sealed frame without the secret: %v, want ErrMalformed", c.name, err)
		}
	}
}

func TestSealFlippedBitsFail(t *testing.T) {
	t.Parallel()
	b := packets.Seal(sealKey, packets.JoinReply{Accepted: true, Token: 5}, time.Now(), 1)
	for i := range b {
		for bit := 0; bit < 8; bit++ {
			c := append([]byte(nil), b...)
			c[i] ^= 1 << bit
			if _, _, _, err := packets.Open(sealKey, c); err == nil {
				t.Fatalf("byte %d bit %d flipped: still opens", i, bit)
			}
		}
	}
}

// FuzzOpen: sealed frames are hostile input too. Open must never panic, and
// anything it accepts must re-seal to exactly the same bytes.
func FuzzOpen(f *testing.F) {
	for _, c := range smallCorpus(512) {
		f.Add(packets.Seal(sealKey, c.m, time.UnixMilli(1_790_000_000_000), 7))
	}
	f.Add([]byte{packets.Version, byte(packets.TypeSealed), 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		inner, sealed := packets.SealedType(data) // never panics, whatever the bytes
		m, at, nonce, err := packets.Open(sealKey, data)
		if err != nil {
			return
		}
		if !sealed || inner != m.Type() {
			t.Fatalf("SealedType = %v, %v for a sealed %v", inner, sealed, m.Type())
		}
		if again := packets.Seal(sealKey, m, at, nonce); !bytes.Equal(again, data) {
			t.Fatalf("accepted %x, which re-seals to %x", data, again)
		}
	})
}
