package bench

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// SlaveSpec describes one slave the lab starts with -local: the settings it
// gets on its command line. The zero value is a slave with its defaults.
type SlaveSpec struct {
	// MaxLoad is -max-load; 0 leaves the slave's default.
	MaxLoad uint64 `json:"max_load,omitempty"`
	// Workers is -workers; nil leaves the slave's default.
	Workers *int `json:"workers,omitempty"`
	// CPU, when positive, is a CPU quota in cores (cgroups; root only),
	// so slaves on one host differ in real speed.
	CPU float64 `json:"cpu,omitempty"`
	// Extra holds any other key=value, passed on as -key=value in the
	// order given (for slave flags the lab does not know by name).
	Extra []KeyValue `json:"extra,omitempty"`
}

// KeyValue is one extra slave setting.
type KeyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// forbiddenSlaveKeys are slave flags the lab sets itself: they keep every
// slave on loopback and off the host's Prometheus, so a spec may not
// override them.
var forbiddenSlaveKeys = map[string]bool{
	"iface": true, "master": true, "discovery-port": true, "metrics-addr": true, "sd-dir": true,
	"secret": true, "log-level": true,
}

// maxSlaves bounds a spec: the master's pool holds 30 by default, and each
// slave is a process on this host.
const maxSlaves = 100

// ParseSlaves reads the -slaves flag. Either a count ("3": three slaves with
// their defaults) or slave descriptions separated by ";", each a
// comma-separated list of key=value, optionally prefixed with "N*" to
// repeat it N times:
//
//	max-load=1e11,workers=2;2*max-load=5e10,workers=1
//
// Known keys: max-load (a positive whole number; 1e11 notation accepted) and
// workers (a whole number ≥ 0) and cpu (a CPU quota in cores, by cgroups:
// root only). Any other key is passed to the slave as
// -key=value, except the ones the lab sets itself (iface, master,
// discovery-port, metrics-addr, sd-dir, secret, log-level). An empty
// description ("" between two ";") is a slave with its defaults.
func ParseSlaves(s string) ([]SlaveSpec, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("no slaves: give a count (3) or descriptions (max-load=1e11,workers=2;workers=1)")
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > maxSlaves {
			return nil, fmt.Errorf("slave count %d out of range 1..%d", n, maxSlaves)
		}
		return make([]SlaveSpec, n), nil
	}
	var specs []SlaveSpec
	for i, part := range strings.Split(s, ";") {
		repeat, desc, err := splitRepeat(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("slave description %d (%q): %w", i+1, part, err)
		}
		spec, err := parseSlave(desc)
		if err != nil {
			return nil, fmt.Errorf("slave description %d (%q): %w", i+1, part, err)
		}
		for range repeat {
			specs = append(specs, spec.clone())
		}
		if len(specs) > maxSlaves {
			return nil, fmt.Errorf("more than %d slaves", maxSlaves)
		}
	}
	return specs, nil
}

// splitRepeat splits "N*desc" into N and desc; without a prefix N is 1.
func splitRepeat(part string) (int, string, error) {
	head, rest, found := strings.Cut(part, "*")
	if !found {
		return 1, part, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(head))
	if err != nil || n < 1 || n > maxSlaves {
		return 0, "", fmt.Errorf("repeat count %q must be a whole number from 1 to %d", head, maxSlaves)
	}
	return n, strings.TrimSpace(rest), nil
}

func parseSlave(desc string) (SlaveSpec, error) {
	var spec SlaveSpec
	if desc == "" {
		return spec, nil
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(desc, ",") {
		key, value, ok := strings.Cut(strings.TrimSpace(kv), "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch {
		case !ok || key == "":
			return spec, fmt.Errorf("%q is not key=value", kv)
		case seen[key]:
			return spec, fmt.Errorf("%s given twice", key)
		case forbiddenSlaveKeys[key]:
			return spec, fmt.Errorf("%s is set by the lab (loopback only) and cannot be overridden", key)
		case strings.HasPrefix(key, "-"):
			return spec, fmt.Errorf("write %s without the dash", key)
		}
		seen[key] = true
		switch key {
		case "max-load":
			v, err := parseLoad(value)
			if err != nil {
				return spec, fmt.Errorf("max-load: %w", err)
			}
			spec.MaxLoad = v
		case "workers":
			w, err := strconv.Atoi(value)
			if err != nil || w < 0 {
				return spec, fmt.Errorf("workers must be a whole number ≥ 0 (0: no cap), got %q", value)
			}
			spec.Workers = &w
		case "cpu":
			c, err := strconv.ParseFloat(value, 64)
			if err != nil || !(c > 0) || c > 1024 {
				return spec, fmt.Errorf("cpu must be a quota in cores above 0, e.g. 0.5, got %q", value)
			}
			spec.CPU = c
		default:
			if value == "" {
				return spec, fmt.Errorf("%s has no value", key)
			}
			spec.Extra = append(spec.Extra, KeyValue{key, value})
		}
	}
	return spec, nil
}

// parseLoad reads a positive whole number, in decimal or e notation (1e11).
func parseLoad(s string) (uint64, error) {
	if v, err := strconv.ParseUint(s, 10, 64); err == nil {
		if v == 0 {
			return 0, fmt.Errorf("must be positive, got %q", s)
		}
		return v, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 1 || f != math.Trunc(f) || f >= math.MaxUint64 {
		return 0, fmt.Errorf("must be a positive whole number (1e11 notation accepted), got %q", s)
	}
	return uint64(f), nil
}

func (s SlaveSpec) clone() SlaveSpec {
	c := s
	if s.Workers != nil {
		w := *s.Workers
		c.Workers = &w
	}
	c.Extra = append([]KeyValue(nil), s.Extra...)
	return c
}

// Args returns the slave's own command-line flags (the lab adds the
// loopback ones).
func (s SlaveSpec) Args() []string {
	var args []string
	if s.MaxLoad != 0 {
		args = append(args, "-max-load", strconv.FormatUint(s.MaxLoad, 10))
	}
	if s.Workers != nil {
		args = append(args, "-workers", strconv.Itoa(*s.Workers))
	}
	for _, kv := range s.Extra {
		args = append(args, "-"+kv.Key+"="+kv.Value)
	}
	return args
}

// String is the spec in the -slaves syntax, "defaults" when empty.
func (s SlaveSpec) String() string {
	var parts []string
	if s.MaxLoad != 0 {
		parts = append(parts, "max-load="+formatLoad(s.MaxLoad))
	}
	if s.Workers != nil {
		parts = append(parts, "workers="+strconv.Itoa(*s.Workers))
	}
	if s.CPU > 0 {
		parts = append(parts, "cpu="+strconv.FormatFloat(s.CPU, 'g', -1, 64))
	}
	for _, kv := range s.Extra {
		parts = append(parts, kv.Key+"="+kv.Value)
	}
	if len(parts) == 0 {
		return "defaults"
	}
	return strings.Join(parts, ",")
}

// formatLoad writes round loads as 1e11 and 5e10, others in full.
func formatLoad(v uint64) string {
	m, e := v, 0
	for m >= 10 && m%10 == 0 {
		m, e = m/10, e+1
	}
	if e >= 4 && m < 1000 {
		return fmt.Sprintf("%de%d", m, e)
	}
	return strconv.FormatUint(v, 10)
}
