package packets

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"
)

// A sealed frame authenticates a handshake packet when the nodes share a
// secret. It is a frame of type TypeSealed whose payload is
//
//	timestamp u64 (Unix milliseconds) | nonce u64 | inner frame | HMAC-SHA256 (32 bytes)
//
// and whose MAC covers every byte of the sealed frame before it, header
// included. The timestamp and nonce let the receiver refuse replays
// (discovery.Guard keeps that state); the inner frame is an ordinary frame.

// MACSize is the size of a sealed frame's MAC.
const MACSize = sha256.Size

// sealOverhead is what sealing adds to the inner frame: header, timestamp,
// nonce, MAC.
const sealOverhead = HeaderSize + 8 + 8 + MACSize

// Seal returns m as a sealed frame under key.
func Seal(key []byte, m Message, at time.Time, nonce uint64) []byte {
	b := make([]byte, 0, sealOverhead+64)
	b = append(b, Version, byte(TypeSealed), 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(at.UnixMilli()))
	b = binary.BigEndian.AppendUint64(b, nonce)
	b = Append(b, m)
	binary.BigEndian.PutUint32(b[2:HeaderSize], uint32(len(b)-HeaderSize+MACSize))
	mac := hmac.New(sha256.New, key)
	mac.Write(b)
	return mac.Sum(b)
}

// Open checks a sealed frame's MAC under key and decodes the frame inside.
// It returns the inner message with the sealed timestamp and nonce; judging
// their freshness is the caller's job.
func Open(key []byte, frame []byte) (Message, time.Time, uint64, error) {
	t, n, err := ParseHeader(frame)
	if err != nil {
		return nil, time.Time{}, 0, err
	}
	switch {
	case t != TypeSealed:
		return nil, time.Time{}, 0, fmt.Errorf("%w: %s is not sealed, and a secret is set", ErrMalformed, t)
	case len(frame)-HeaderSize != n:
		return nil, time.Time{}, 0, fmt.Errorf("%w: length says %d bytes, frame has %d", ErrMalformed, n, len(frame)-HeaderSize)
	case n < sealOverhead-HeaderSize+HeaderSize: // timestamp, nonce, an inner header, MAC
		return nil, time.Time{}, 0, fmt.Errorf("%w: sealed frame of %d bytes", ErrMalformed, n)
	}
	body, sum := frame[:len(frame)-MACSize], frame[len(frame)-MACSize:]
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil), sum) {
		return nil, time.Time{}, 0, ErrBadMAC
	}
	at := time.UnixMilli(int64(binary.BigEndian.Uint64(body[HeaderSize:])))
	nonce := binary.BigEndian.Uint64(body[HeaderSize+8:])
	inner := body[HeaderSize+16:]
	if len(inner) >= HeaderSize && Type(inner[1]) == TypeSealed {
		return nil, time.Time{}, 0, fmt.Errorf("%w: sealed frame inside a sealed frame", ErrMalformed)
	}
	m, err := Decode(inner)
	if err != nil {
		return nil, time.Time{}, 0, fmt.Errorf("sealed %w", err)
	}
	return m, at, nonce, nil
}

// SealedType returns the type of the frame inside a sealed frame without
// authenticating it: only to explain a refusal (a join request sealed with
// another secret gets a NAK saying so), never to act on its content.
func SealedType(frame []byte) (Type, bool) {
	const inner = HeaderSize + 16 // header, timestamp, nonce
	if len(frame) < inner+HeaderSize || Type(frame[1]) != TypeSealed {
		return 0, false
	}
	return Type(frame[inner+1]), true
}
