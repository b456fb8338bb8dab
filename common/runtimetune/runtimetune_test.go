package runtimetune

import (
	"slices"
	"testing"
)

func TestEnv(t *testing.T) {
	for _, tc := range []struct {
		name    string
		environ []string
		want    []string
		changed bool
	}{
		{"no GODEBUG", []string{"PATH=/bin"}, []string{"PATH=/bin", "GODEBUG=" + Setting}, true},
		{"empty GODEBUG", []string{"GODEBUG=", "PATH=/bin"}, []string{"PATH=/bin", "GODEBUG=" + Setting}, true},
		{"other settings kept", []string{"GODEBUG=madvdontneed=1,gctrace=0"}, []string{"GODEBUG=madvdontneed=1,gctrace=0," + Setting}, true},
		{"the first GODEBUG is the one read", []string{"GODEBUG=gctrace=0", "X=1", "GODEBUG=schedtrace=5"}, []string{"X=1", "GODEBUG=gctrace=0," + Setting}, true},
		{"schedtrace=0 is the operator's", []string{"A=1", "GODEBUG=schedtrace=0"}, []string{"A=1", "GODEBUG=schedtrace=0"}, false},
		{"schedtrace among others", []string{"GODEBUG=gctrace=1,schedtrace=1000"}, []string{"GODEBUG=gctrace=1,schedtrace=1000"}, false},
		{"a look-alike is not schedtrace", []string{"GODEBUG=xschedtrace=1"}, []string{"GODEBUG=xschedtrace=1," + Setting}, true},
		{"a variable named like GODEBUG", []string{"GODEBUGX=schedtrace=0"}, []string{"GODEBUGX=schedtrace=0", "GODEBUG=" + Setting}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := Env(slices.Clone(tc.environ))
			if changed != tc.changed || !slices.Equal(got, tc.want) {
				t.Errorf("Env(%q) = %q, %v; want %q, %v", tc.environ, got, changed, tc.want, tc.changed)
			}
		})
	}
}
