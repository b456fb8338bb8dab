package balance

// firstAvailable takes the first slave that fits in join order, a slave
// with a free worker before any without: O(log N) while the first slaves
// have room.
type firstAvailable struct{ byJoin *ranking }

func (f *firstAvailable) Track(s Slave)        { f.byJoin.file(s, 0) }
func (f *firstAvailable) Untrack(s Slave)      { f.byJoin.remove(s) }
func (f *firstAvailable) Pick(c *Choice) Slave { return f.byJoin.first(lowest, c) }
