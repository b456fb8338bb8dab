package balance

// random takes a slave that fits, uniformly at random among those with a
// free worker (else among all): the baseline of the queueing theory (n
// slaves fed at random are n independent queues, each with a Poisson share
// of the arrivals).
type random struct{ draws }

func (r *random) Pick(c *Choice) Slave { return r.one(c) }
