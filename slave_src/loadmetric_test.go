package slave

import (
	"strings"
	"testing"

	sigar "github.com/cloudfoundry/gosigar"
)

func TestBusyBetween(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b sigar.Cpu
		want float64
	}{
		{"half busy", sigar.Cpu{User: 100, Idle: 100}, sigar.Cpu{User: 150, Idle: 150}, 0.5},
		{"all busy, sys and irq count", sigar.Cpu{}, sigar.Cpu{Sys: 30, Irq: 10, User: 60}, 1},
		{"iowait is idle", sigar.Cpu{}, sigar.Cpu{User: 25, Wait: 75}, 0.25},
		{"no time passed", sigar.Cpu{User: 5}, sigar.Cpu{User: 5}, 0},
		{"counters went back", sigar.Cpu{User: 50, Idle: 50}, sigar.Cpu{User: 10, Idle: 10}, 0},
	}
	for _, tt := range tests {
		if got := busyBetween(tt.a, tt.b); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestLoadMetrics(t *testing.T) {
	t.Parallel()
	for _, name := range LoadMetricNames() {
		f, err := newLoadMetric(name, 4)
		if err != nil {
			t.Fatal(err)
		}
		v, err := f()
		if err != nil || v < 0 {
			t.Errorf("%s: %v, %v", name, v, err)
		}
	}
	f, _ := newLoadMetric("workers", 4)
	if v, _ := f(); v != 0.25 {
		t.Errorf("workers metric with 4 workers: %v, want 0.25", v)
	}
	if _, err := newLoadMetric("magic", 1); err == nil || !strings.Contains(err.Error(), "loadavg") {
		t.Errorf("unknown metric: %v, want an error listing the valid ones", err)
	}
}
