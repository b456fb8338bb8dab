package discovery

import (
	"sync"
	"time"
)

// LogThrottle decides which repeated log lines are worth writing: a line
// about a key (a source address, a node) is written when its text changed,
// or when the last one is older than the interval. Its memory is bounded:
// past the bound it forgets an arbitrary key, which can only cost an extra
// line.
type LogThrottle struct {
	every time.Duration
	max   int

	mu   sync.Mutex
	last map[string]logged
}

type logged struct {
	text string
	at   time.Time
}

// NewLogThrottle returns a throttle that repeats a line at most once per
// every, remembering at most max keys.
func NewLogThrottle(every time.Duration, max int) *LogThrottle {
	return &LogThrottle{every: every, max: max, last: make(map[string]logged)}
}

// Allow reports whether the line text about key should be written now, and
// if so records it.
func (t *LogThrottle) Allow(key, text string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if l, ok := t.last[key]; ok && l.text == text && now.Sub(l.at) < t.every {
		return false
	}
	if _, ok := t.last[key]; !ok && len(t.last) >= t.max {
		for k := range t.last {
			delete(t.last, k)
			break
		}
	}
	t.last[key] = logged{text: text, at: now}
	return true
}
