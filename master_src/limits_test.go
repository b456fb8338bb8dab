package master

import (
	"testing"
	"time"
)

// Where offering slaves disagree on a time limit, the stricter wins, and
// "no limit" (0) is the loosest of all, whichever side it is on.
func TestStricterTimeout(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ a, b, want time.Duration }{
		{0, 5 * time.Second, 5 * time.Second},
		{5 * time.Second, 0, 5 * time.Second},
		{3 * time.Second, 5 * time.Second, 3 * time.Second},
		{5 * time.Second, 3 * time.Second, 3 * time.Second},
		{0, 0, 0},
	} {
		if got := (taskLimits{Timeout: tt.a}).stricter(taskLimits{Timeout: tt.b}).Timeout; got != tt.want {
			t.Errorf("stricter(%s, %s) timeout %s, want %s", tt.a, tt.b, got, tt.want)
		}
	}
}
