package bench

import (
	"reflect"
	"strings"
	"testing"
)

func intp(v int) *int { return &v }

func TestParseSlaves(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []SlaveSpec
	}{
		{"3", make([]SlaveSpec, 3)},
		{" 1 ", make([]SlaveSpec, 1)},
		{"max-load=1e11,workers=2", []SlaveSpec{{MaxLoad: 100_000_000_000, Workers: intp(2)}}},
		{"max-load=1e11,workers=2;max-load=5e10,workers=1", []SlaveSpec{
			{MaxLoad: 1e11, Workers: intp(2)}, {MaxLoad: 5e10, Workers: intp(1)}}},
		{"2*workers=1;max-load=20000000000", []SlaveSpec{
			{Workers: intp(1)}, {Workers: intp(1)}, {MaxLoad: 2e10}}},
		{" workers = 0 ; ", []SlaveSpec{{Workers: intp(0)}, {}}},
		{"workers=1;;workers=2", []SlaveSpec{{Workers: intp(1)}, {}, {Workers: intp(2)}}},
		{"load-metric=cpu,workers=1", []SlaveSpec{{Workers: intp(1), Extra: []KeyValue{{"load-metric", "cpu"}}}}},
		{"max-load=18446744073709551615", []SlaveSpec{{MaxLoad: 18446744073709551615}}},
		{"3*", make([]SlaveSpec, 3)},
		{"2*workers=1,speed=4,cpu=0.5", []SlaveSpec{
			{Workers: intp(1), CPU: 0.5, Extra: []KeyValue{{"speed", "4"}}}, {Workers: intp(1), CPU: 0.5, Extra: []KeyValue{{"speed", "4"}}}}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSlaves(tc.in)
			if err != nil {
				t.Fatalf("ParseSlaves(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseSlaves(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseSlavesErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, wantErr string }{
		{"", "no slaves"},
		{"0", "out of range"},
		{"-1", "out of range"},
		{"101", "out of range"},
		{"max-load", "not key=value"},
		{"=3", "not key=value"},
		{"max-load=0", "positive"},
		{"max-load=-5", "positive whole number"},
		{"max-load=1.5", "positive whole number"},
		{"max-load=abc", "positive whole number"},
		{"max-load=1e30", "positive whole number"},
		{"workers=-1", "whole number ≥ 0"},
		{"workers=two", "whole number ≥ 0"},
		{"workers=1,workers=2", "given twice"},
		{"iface=eth0", "set by the lab"},
		{"master=10.0.0.1", "set by the lab"},
		{"discovery-port=3000", "set by the lab"},
		{"metrics-addr=0.0.0.0:9", "set by the lab"},
		{"-workers=1", "without the dash"},
		{"load-metric=", "has no value"},
		{"0*workers=1", "repeat count"},
		{"x*workers=1", "repeat count"},
		{"101*workers=1", "repeat count"}, // one repeat past the cap, refused as a repeat
		{"60*workers=1;60*workers=2", "more than 100"},
		{"cpu=0", "quota in cores"},
		{"cpu=half", "quota in cores"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSlaves(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ParseSlaves(%q) = %+v, %v; want an error containing %q", tc.in, got, err, tc.wantErr)
			}
		})
	}
}

func TestSlaveSpecArgsAndString(t *testing.T) {
	t.Parallel()
	specs, err := ParseSlaves("max-load=5e10,workers=1,load-metric=cpu;;max-load=123456")
	if err != nil {
		t.Fatal(err)
	}
	wantArgs := [][]string{
		{"-max-load", "50000000000", "-workers", "1", "-load-metric=cpu"},
		nil,
		{"-max-load", "123456"},
	}
	wantStr := []string{"max-load=5e10,workers=1,load-metric=cpu", "defaults", "max-load=123456"}
	for i, s := range specs {
		if got := s.Args(); !reflect.DeepEqual(got, wantArgs[i]) {
			t.Errorf("spec %d Args() = %q, want %q", i, got, wantArgs[i])
		}
		if got := s.String(); got != wantStr[i] {
			t.Errorf("spec %d String() = %q, want %q", i, got, wantStr[i])
		}
	}
	// Repeated specs do not share their workers.
	specs, _ = ParseSlaves("2*workers=1")
	*specs[0].Workers = 5
	if *specs[1].Workers != 1 {
		t.Error("repeated specs share storage")
	}
}
