package balance

// inJoinOrder is for the algorithms that need no order of their own.
type inJoinOrder struct{}

func (inJoinOrder) Track(Slave)   {}
func (inJoinOrder) Untrack(Slave) {}

// firstAvailable takes the first slave that fits, in join order: O(1) while
// the first slaves have room.
type firstAvailable struct{ inJoinOrder }

func (firstAvailable) Pick(c *Choice) Slave {
	for _, s := range c.Slaves {
		if c.Fits(s) {
			return s
		}
	}
	return nil
}
