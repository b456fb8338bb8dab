package webui

import "time"

// The status APIs show times and durations the same way on both pages.

// Time is how a time appears in an API answer: UTC, to the millisecond.
func Time(t time.Time) time.Time { return t.UTC().Round(time.Millisecond) }

// TimePtr is Time, or nil (JSON null) for a time that never was.
func TimePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	at := Time(t)
	return &at
}

// Millis is d in milliseconds, to the microsecond.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Age is how long before now t was, in milliseconds (never negative), or
// nil for a time that never was.
func Age(t, now time.Time) *float64 {
	if t.IsZero() {
		return nil
	}
	a := Millis(max(now.Sub(t), 0))
	return &a
}
