// Package securelink protects a TCP link between master and node when the
// cluster shares a secret: every byte is encrypted and authenticated
// (AES-256-GCM) under keys that only the two ends of one join know.
//
// Keys: HKDF-SHA256 over the secret, salted with the nonces of the join
// request and of the reply that accepted it, expanded once per link kind
// and direction. A join's keys therefore differ from every other join's
// (a restarted master or a replayed handshake gets fresh ones), and a frame
// of one link or direction does not open on another.
//
// Records: a stream of
//
//	length u32 (BE, of the sealed bytes) | AES-GCM sealed bytes (plaintext + 16-byte tag)
//
// with the length as additional data and a per-direction record counter as
// the GCM nonce, so a record that is replayed, reordered, dropped, cut or
// altered fails to open and ends the link. Plaintext is cut into records
// of at most MaxRecord bytes; each Write seals its records into one write
// on the wire, so the framing of the protocol above (packets.BatchWriter's
// batches) costs one seal per batch.
//
// Without a secret nothing is wrapped: the wire stays the original one.
package securelink

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net"

	"github.com/lbproject/loadbalancer/common/packets"
)

// Session holds the key material of one accepted join.
type Session struct {
	prk []byte // HKDF pseudorandom key
}

// NewSession derives a join's key material from the shared secret and the
// nonces of the join request and of the reply that accepted it.
func NewSession(secret []byte, requestNonce, replyNonce uint64) *Session {
	salt := make([]byte, 0, 32)
	salt = append(salt, "lb securelink v1"...)
	salt = binary.BigEndian.AppendUint64(salt, requestNonce)
	salt = binary.BigEndian.AppendUint64(salt, replyNonce)
	// Hashed first: HKDF in FIPS mode refuses secrets under 14 bytes.
	ikm := sha256.Sum256(secret)
	prk, err := hkdf.Extract(sha256.New, ikm[:], salt)
	if err != nil {
		panic(fmt.Sprintf("securelink: HKDF extract: %v", err)) // unreachable with a 32-byte input
	}
	return &Session{prk: prk}
}

// Master wraps the master's end of link kind: it dialled the connection.
// A nil session returns c unchanged (no secret).
func (s *Session) Master(c net.Conn, kind packets.Link) net.Conn {
	if s == nil {
		return c
	}
	return newConn(c, s.aead(kind, "node to master"), s.aead(kind, "master to node"))
}

// Node wraps the node's (slave's or monitor's) end of link kind: it
// accepted the connection. A nil session returns c unchanged.
func (s *Session) Node(c net.Conn, kind packets.Link) net.Conn {
	if s == nil {
		return c
	}
	return newConn(c, s.aead(kind, "master to node"), s.aead(kind, "node to master"))
}

// aead returns the cipher of one link kind in one direction.
func (s *Session) aead(kind packets.Link, direction string) cipher.AEAD {
	key, err := hkdf.Expand(sha256.New, s.prk, fmt.Sprintf("link %d %s", kind, direction), 32)
	if err != nil {
		panic(fmt.Sprintf("securelink: HKDF expand: %v", err)) // unreachable: 32 bytes is far below HKDF's limit
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(fmt.Sprintf("securelink: %v", err)) // a 32-byte key is always valid
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		panic(fmt.Sprintf("securelink: %v", err)) // AES always has a 128-bit block
	}
	return gcm
}
