// Package neterr tells the network errors a daemon should wait out (a cable
// pulled, an interface going down and up, a full send buffer) from the ones
// that end it.
package neterr

import (
	"errors"
	"syscall"
	"time"
)

// Transient reports whether err is a network condition that may clear by
// itself: retry it with back-off instead of giving up.
func Transient(err error) bool {
	for _, e := range []syscall.Errno{
		syscall.ENETUNREACH, syscall.EHOSTUNREACH, syscall.ENETDOWN, syscall.EHOSTDOWN,
		syscall.ECONNREFUSED, syscall.ENOBUFS, syscall.EADDRNOTAVAIL, syscall.EPERM,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Backoff doubles a wait from min up to max.
type Backoff struct {
	Min, Max time.Duration
	next     time.Duration
}

// Next returns the wait before the next try.
func (b *Backoff) Next() time.Duration {
	b.next = min(max(b.next*2, b.Min), b.Max)
	return b.next
}

// Reset starts over from Min, after a success.
func (b *Backoff) Reset() { b.next = 0 }
