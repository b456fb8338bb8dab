package packets_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
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
// FuzzOpen seals the fuzzer's inner bytes under the key, so that every
// input gets past the MAC and exercises what follows it (the nested-seal
// check, the inner frame's decoding); raw, when set, hands the bytes to Open
// as they are instead, for the checks before the MAC.
func FuzzOpen(f *testing.F) {
	at := time.UnixMilli(1_790_000_000_000)
	for _, c := range smallCorpus(512) {
		f.Add(packets.Encode(c.m), at.UnixMilli(), uint64(7), false)
		f.Add(packets.Seal(sealKey, c.m, at, 7), at.UnixMilli(), uint64(7), true)
	}
	f.Add(packets.Seal(sealKey, packets.JoinRequest{}, at, 1), at.UnixMilli(), uint64(2), false) // a seal in a seal
	f.Add([]byte{}, int64(-1), uint64(0), false)
	f.Add([]byte{packets.Version, byte(packets.TypeSealed), 0, 0, 0, 0}, int64(0), uint64(0), true)
	f.Fuzz(func(t *testing.T, inner []byte, ms int64, nonce uint64, raw bool) {
		data := inner
		if !raw {
			data = sealInner(sealKey, time.UnixMilli(ms), nonce, inner)
		}
		inner2, sealed := packets.SealedType(data) // never panics, whatever the bytes
		m, gotAt, gotNonce, err := packets.Open(sealKey, data)
		if err != nil {
			if !raw {
				if errors.Is(err, packets.ErrBadMAC) {
					t.Fatalf("a frame sealed under the key fails its MAC: %v", err)
				}
				if _, derr := packets.Decode(inner); derr == nil && (len(inner) < packets.HeaderSize || packets.Type(inner[1]) != packets.TypeSealed) {
					t.Fatalf("a valid inner frame %x was refused: %v", inner, err)
				}
			}
			return
		}
		if !sealed || inner2 != m.Type() {
			t.Fatalf("SealedType = %v, %v for a sealed %v", inner2, sealed, m.Type())
		}
		if again := packets.Seal(sealKey, m, gotAt, gotNonce); !bytes.Equal(again, data) {
			t.Fatalf("accepted %x, which re-seals to %x", data, again)
		}
		if !raw && (gotNonce != nonce || gotAt.UnixMilli() != ms) {
			t.Fatalf("sealed at %d with nonce %d, opened as %d, %d", ms, nonce, gotAt.UnixMilli(), gotNonce)
		}
	})
}

func appendMAC(key, b []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write(b)
	return mac.Sum(b)
}
