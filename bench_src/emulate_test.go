package bench

import (
	"math"
	"strings"
	"testing"
)

func TestCapacity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		slaves  string
		want    float64 // tasks/s at a mean service of 50 ms
		wantErr string
	}{
		{"10*workers=1", 200, ""},
		{"2*workers=1,speed=4;2*workers=1,speed=2;4*workers=1,speed=1", 320, ""},
		{"workers=3,speed=0.5", 30, ""},
		{"workers=0", 0, "no cap"},
		{"workers=1,speed=fast", 0, "positive number"},
	}
	for _, tt := range tests {
		specs, err := ParseSlaves(tt.slaves)
		if err != nil {
			t.Fatal(err)
		}
		got, err := capacity(specs, 0.05)
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: %v, want an error containing %q", tt.slaves, err, tt.wantErr)
		case tt.wantErr == "" && (err != nil || math.Abs(got-tt.want) > 1e-9):
			t.Errorf("%s: capacity %v, %v; want %v", tt.slaves, got, err, tt.want)
		}
	}
}

func TestParseService(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"exp:50ms", "const:1s", "pareto:20ms,1.5"} {
		s, err := ParseService(in)
		if err != nil || s.String() != in {
			t.Errorf("ParseService(%q) = %v, %v", in, s, err)
		}
	}
	for _, in := range []string{"", "exp", "exp:0", "exp:-1s", "gauss:1s", "pareto:1s", "pareto:1s,1", "pareto:1s,x"} {
		if _, err := ParseService(in); err == nil {
			t.Errorf("ParseService(%q) accepted", in)
		}
	}
}
