package tasks

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"
)

func TestWorkWaitsItsServiceTimeOverSpeed(t *testing.T) {
	t.Parallel()
	w, ok := ByName("work")
	if !ok || !w.Emulated || w.Load(w.MaxN) != 1 {
		t.Fatalf("work: registered %v, emulated %v, load %d; want an emulated task of load 1", ok, w.Emulated, w.Load(w.MaxN))
	}
	tests := []struct {
		speed float64
		n     uint64 // µs
		want  time.Duration
	}{
		{0, 40_000, 40 * time.Millisecond}, // no speed: 1
		{1, 40_000, 40 * time.Millisecond},
		{4, 200_000, 50 * time.Millisecond},
		{0.5, 20_000, 40 * time.Millisecond},
	}
	for _, tt := range tests {
		ctx := context.Background()
		if tt.speed != 0 {
			ctx = WithSpeed(ctx, tt.speed)
		}
		start := time.Now()
		got, err := w.Run(ctx, tt.n)
		took := time.Since(start)
		if err != nil || got != strconv.FormatUint(tt.n, 10) {
			t.Fatalf("speed %g, n %d: %q, %v", tt.speed, tt.n, got, err)
		}
		// A timer never fires early; the upper bound only catches a wrong
		// scale (a factor of 2 at least), not scheduling delays.
		if took < tt.want || took > 2*tt.want+50*time.Millisecond {
			t.Errorf("speed %g, n %d µs: took %v, want %v", tt.speed, tt.n, took, tt.want)
		}
	}
}

func TestWorkIsCancellable(t *testing.T) {
	t.Parallel()
	w, _ := ByName("work")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := w.Run(ctx, w.MaxN); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the deadline", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("cancelled wait took %v", took)
	}
}
