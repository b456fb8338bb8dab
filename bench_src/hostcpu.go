package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// cpuSample is a reading of the host's busy CPU time and of the lab's own
// processes' CPU time, in clock ticks. Linux only (/proc); elsewhere ok is
// false.
type cpuSample struct {
	busy, all, ours uint64
	ok              bool
}

// sampleCPU reads /proc/stat and the CPU time of pids (the bench itself
// is always counted).
func sampleCPU(pids []int) cpuSample {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuSample{}
	}
	busy, all, err := parseProcStat(string(b))
	if err != nil {
		return cpuSample{}
	}
	s := cpuSample{busy: busy, all: all, ok: true}
	for _, pid := range append([]int{os.Getpid()}, pids...) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // gone: its time is lost, which only overstates others
		}
		if t, err := parsePidStat(string(b)); err == nil {
			s.ours += t
		}
	}
	return s
}

// otherShare is the fraction of the host's CPU capacity used between a and
// b by processes that are not the lab's; -1 when unknown.
func otherShare(a, b cpuSample) float64 {
	if !a.ok || !b.ok || b.all <= a.all {
		return -1
	}
	busy := float64(b.busy - a.busy)
	ours := float64(b.ours) - float64(a.ours)
	return min(max((busy-ours)/float64(b.all-a.all), 0), 1)
}

// parseProcStat returns the busy and total ticks of the "cpu" line.
func parseProcStat(s string) (busy, all uint64, err error) {
	line, _, _ := strings.Cut(s, "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("no cpu line in /proc/stat")
	}
	// user nice system idle iowait irq softirq steal [guest guest_nice]:
	// guest time is already in user and nice.
	var v [8]uint64
	for i := range v {
		if v[i], err = strconv.ParseUint(f[i+1], 10, 64); err != nil {
			return 0, 0, err
		}
	}
	idle := v[3] + v[4]
	for _, x := range v {
		all += x
	}
	return all - idle, all, nil
}

// parsePidStat returns utime+stime from /proc/PID/stat (after the command
// name, which may contain spaces and parentheses).
func parsePidStat(s string) (uint64, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("bad stat")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("short stat")
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad stat times")
	}
	return u + st, nil
}
