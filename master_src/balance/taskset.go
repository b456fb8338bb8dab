package balance

// TaskSet is a set of task codes (0..255), a bitset: membership costs a
// shift, and a slave's set lives in its figures without allocating.
type TaskSet [4]uint64

// Add puts code in the set.
func (t *TaskSet) Add(code uint8) { t[code/64] |= 1 << (code % 64) }

// Has reports whether code is in the set.
func (t *TaskSet) Has(code uint8) bool { return t[code/64]&(1<<(code%64)) != 0 }
