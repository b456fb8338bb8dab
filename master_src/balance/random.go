package balance

// random takes a slave that fits, uniformly at random: the baseline of the
// queueing theory (n slaves fed at random are n independent queues, each
// with a Poisson share of the arrivals).
type random struct {
	inJoinOrder
	draws
}

func (r *random) Pick(c *Choice) Slave { return r.one(c) }
