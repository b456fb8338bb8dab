package balance

import "testing"

func TestShortestQueue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		figures []slave
		want    int
	}{
		{"fewest in flight wins over speed", []slave{{inFlight: 1, service: 0.01}, {inFlight: 0, service: 1}}, 1},
		{"idle: the fastest", []slave{{service: 0.4}, {service: 0.1}, {service: 0.2}}, 1},
		{"a much faster slave never outweighs a task", []slave{{inFlight: 1, service: 1e-9}, {service: 1e9}}, 1},
		{"no result yet: priced at the mean, beaten by a faster one", []slave{{service: 0.3}, {}, {service: 0.1}}, 2},
		{"no result yet: priced at the mean, so not above the fastest", []slave{{service: 0.3}, {service: 0.5}, {}}, 0},
		{"no result yet and idle beats a busy fast one", []slave{{inFlight: 1, service: 0.1}, {}}, 1},
		{"none has a result: fewest in flight, then join order", []slave{{inFlight: 1}, {}, {}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, err := New("shortest_queue")
			if err != nil {
				t.Fatal(err)
			}
			ms := slaves(a, tc.figures...)
			if got := pick(a, ms); got != tc.want {
				t.Fatalf("picked %d, want %d", got, tc.want)
			}
		})
	}
}

func TestShortestQueuePassesOverFullSlaves(t *testing.T) {
	t.Parallel()
	a, _ := New("shortest_queue")
	ms := slaves(a, slave{service: 0.1}, slave{service: 0.9})
	ms[0].MaxLoad = ms[0].Committed // no room for the task
	a.Track(ms[0])
	if got := pick(a, ms); got != 1 {
		t.Fatalf("picked %d, want the slave with room", got)
	}
}

// TestShortestQueueWorkers: tasks in flight count per worker.
func TestShortestQueueWorkers(t *testing.T) {
	t.Parallel()
	a, _ := New("shortest_queue")
	ms := slaves(a, slave{inFlight: 2, service: 0.1}, slave{inFlight: 1, service: 0.1})
	ms[0].Workers = 4 // 2 of 4 busy: half a task per worker, against 1
	a.Track(ms[0])
	if got := pick(a, ms); got != 0 {
		t.Fatalf("picked %d, want the four-worker slave", got)
	}
	ms[0].InFlight = 5 // 1.25 per worker
	a.Track(ms[0])
	if got := pick(a, ms); got != 1 {
		t.Fatalf("picked %d, want the one-worker slave", got)
	}
}
