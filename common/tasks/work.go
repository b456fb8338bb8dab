package tasks

import (
	"context"
	"strconv"
	"time"
)

func init() {
	Register(Task{
		Name: "work",
		Code: 3,
		// n is the service time in microseconds, at most five seconds.
		MaxN: 5_000_000,
		// The master cannot see an emulated request's cost, as it cannot a
		// real request of unknown size: each counts 1 against max load.
		Load:     func(uint64) uint64 { return 1 },
		Emulated: true,
		Run: func(ctx context.Context, n uint64) (string, error) {
			t := time.NewTimer(time.Duration(float64(n) * float64(time.Microsecond) / speedOf(ctx)))
			defer t.Stop()
			select {
			case <-t.C:
				return strconv.FormatUint(n, 10), nil
			case <-ctx.Done():
				return "", ctx.Err()
			}
		},
	})
}

type speedKey struct{}

// WithSpeed returns ctx carrying the running slave's speed: an emulated
// task's service time is divided by it.
func WithSpeed(ctx context.Context, speed float64) context.Context {
	return context.WithValue(ctx, speedKey{}, speed)
}

// speedOf is ctx's speed, 1 when none is set.
func speedOf(ctx context.Context) float64 {
	if s, ok := ctx.Value(speedKey{}).(float64); ok && s > 0 {
		return s
	}
	return 1
}
