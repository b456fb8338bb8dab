package webui

import (
	"testing"
	"time"
)

func TestAPITimes(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 5, 0, 0, 123_456_789, time.FixedZone("CET", 3600))
	if got, want := Time(now), time.Date(2026, 11, 26, 4, 0, 0, 123_000_000, time.UTC); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("Time = %v, want %v in UTC", got, want)
	}
	if TimePtr(time.Time{}) != nil {
		t.Error("TimePtr of the zero time is not nil")
	}
	if got := TimePtr(now); got == nil || !got.Equal(Time(now)) {
		t.Errorf("TimePtr = %v", got)
	}
	if got := Millis(1500 * time.Microsecond); got != 1.5 {
		t.Errorf("Millis(1.5ms) = %v", got)
	}
	tests := []struct {
		name string
		t    time.Time
		want *float64
	}{
		{"never", time.Time{}, nil},
		{"250 ms ago", now.Add(-250 * time.Millisecond), ptr(250)},
		{"in the future (clock skew)", now.Add(time.Second), ptr(0)},
	}
	for _, tt := range tests {
		got := Age(tt.t, now)
		if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
			t.Errorf("Age %s = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func ptr(f float64) *float64 { return &f }
