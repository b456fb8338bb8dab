package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Service is a service-time distribution: exp, const or pareto, with its
// mean (at speed 1) and, for pareto, its shape Alpha (> 1; the tail is
// heavier as it nears 1).
type Service struct {
	Kind  string
	Mean  time.Duration
	Alpha float64
}

// ParseService reads exp:MEAN, const:MEAN or pareto:MEAN,ALPHA, MEAN a
// duration (50ms).
func ParseService(s string) (Service, error) {
	kind, rest, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return Service{}, fmt.Errorf("service %q: want exp:MEAN, const:MEAN or pareto:MEAN,ALPHA (MEAN a duration, e.g. 50ms)", s)
	}
	d := Service{Kind: kind}
	mean := rest
	switch kind {
	case "exp", "const":
	case "pareto":
		var alpha string
		if mean, alpha, ok = strings.Cut(rest, ","); !ok {
			return Service{}, fmt.Errorf("service %q: pareto needs MEAN,ALPHA, e.g. pareto:50ms,1.5", s)
		}
		a, err := strconv.ParseFloat(alpha, 64)
		if err != nil || !(a > 1) || math.IsInf(a, 0) {
			return Service{}, fmt.Errorf("service %q: ALPHA must be a number above 1 (the mean is infinite below)", s)
		}
		d.Alpha = a
	default:
		return Service{}, fmt.Errorf("service %q: unknown distribution %q (exp, const or pareto)", s, kind)
	}
	m, err := time.ParseDuration(mean)
	if err != nil || m <= 0 {
		return Service{}, fmt.Errorf("service %q: MEAN must be a positive duration, e.g. 50ms", s)
	}
	d.Mean = m
	return d, nil
}

func (d Service) String() string {
	if d.Kind == "pareto" {
		return fmt.Sprintf("pareto:%s,%g", d.Mean, d.Alpha)
	}
	return d.Kind + ":" + d.Mean.String()
}

// Draw returns a service time at speed 1, in seconds.
func (d Service) Draw(rng *rand.Rand) float64 {
	m := d.Mean.Seconds()
	switch d.Kind {
	case "exp":
		return rng.ExpFloat64() * m
	case "pareto":
		// Scale xm gives the mean xm·α/(α−1); inverse transform of 1−U.
		xm := m * (d.Alpha - 1) / d.Alpha
		return xm / math.Pow(1-rng.Float64(), 1/d.Alpha)
	default:
		return m
	}
}
