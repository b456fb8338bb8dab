package balance

// TaskSet is a set of task indices 0..255 (the master's task catalogue
// numbers every task it knows with one): the tasks a slave offers.
type TaskSet [4]uint64

// Has reports whether i is in the set.
func (s *TaskSet) Has(i uint8) bool { return s[i/64]&(1<<(i%64)) != 0 }

// Add puts i in the set.
func (s *TaskSet) Add(i uint8) { s[i/64] |= 1 << (i % 64) }
