package main

import "testing"

func TestJudge(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		s         summary
		maxFailed int64
		ok        bool
	}{
		{"all right", summary{Sent: 10, OK: 10}, 0, true},
		{"nothing sent", summary{}, 0, false},
		{"a wrong answer", summary{Sent: 10, OK: 9, Wrong: 1, Failed: map[string]int64{"wrong": 1}}, 5, false},
		{"a 503", summary{Sent: 10, OK: 9, Failed: map[string]int64{"503": 1}}, 0, false},
		{"a 503 allowed", summary{Sent: 10, OK: 9, Failed: map[string]int64{"503": 1}}, 1, true},
		{"two failures, one allowed", summary{Sent: 10, OK: 8, Failed: map[string]int64{"503": 1, "transport": 1}}, 1, false},
	} {
		if err := tc.s.judge(tc.maxFailed); (err == nil) != tc.ok {
			t.Errorf("%s: judge = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
