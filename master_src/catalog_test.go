package master

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
	"github.com/lbproject/loadbalancer/master_src/balance"
)

func testSession(id uint16) *session {
	return newSession(peerKey{nodeKey: nodeKey{ID: id}}, 0, time.Time{})
}

// What a hostile or careless slave offers: each refused entry is refused
// alone, the rest of its offer stands.
func TestCatalogRefusals(t *testing.T) {
	tests := []struct {
		name    string
		offer   packets.OfferedTask
		refused string // "" when taken
	}{
		{"user task", packets.OfferedTask{Name: "sha", Load: 1}, ""},
		{"built-in", packets.OfferedTask{Name: "work", Builtin: true}, ""},
		{"invalid name", packets.OfferedTask{Name: "Sha"}, "not a valid task name"},
		{"empty name", packets.OfferedTask{}, "not a valid task name"},
		{"no such built-in", packets.OfferedTask{Name: "sha2", Builtin: true}, "no such built-in task"},
		{"a built-in's name", packets.OfferedTask{Name: "primes"}, "the name of a built-in task"},
		{"a master path", packets.OfferedTask{Name: "metrics"}, "a path of the master"},
		{"the API", packets.OfferedTask{Name: "api"}, "a path of the master"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCatalog()
			s := testSession(1)
			set, refused := c.offer(s, []packets.OfferedTask{tc.offer, {Name: "fibonacci", Builtin: true}})
			fib, _ := c.lookup("fibonacci")
			if !set.Has(fib.Index) || fib.Slaves != 1 {
				t.Fatalf("the valid entry beside it was not taken: %+v", fib)
			}
			got, listed := c.lookup(tc.offer.Name)
			switch {
			case tc.refused == "" && (len(refused) != 0 || !listed || !set.Has(got.Index) || got.Slaves != 1):
				t.Fatalf("refused %v, listed %v %+v", refused, listed, got)
			case tc.refused != "" && (len(refused) != 1 || !strings.Contains(refused[0], tc.refused)):
				t.Fatalf("refused %v, want %q", refused, tc.refused)
			case tc.refused != "" && listed && got.Slaves != 0:
				t.Fatalf("refused, yet %+v", got)
			}
		})
	}
}

// Duplicates count once; a new offer replaces the last; withdrawing ends
// them, and a late offer after that is ignored.
func TestCatalogOfferChanges(t *testing.T) {
	c := newCatalog()
	a, b := testSession(1), testSession(2)
	sha := packets.OfferedTask{Name: "sha", Load: 5, MaxInput: 100, TimeoutMillis: 2000}
	if _, refused := c.offer(a, []packets.OfferedTask{sha, sha}); len(refused) != 1 || !strings.Contains(refused[0], "offered twice") {
		t.Fatalf("a duplicate: refused %v", refused)
	}
	c.offer(b, []packets.OfferedTask{{Name: "sha", Load: 2, PerByte: true, MaxInput: 50, TimeoutMillis: 5000}})
	got, _ := c.lookup("sha")
	want := taskLimits{MaxInput: 50, PerTask: 5, PerByte: 2, Timeout: 2 * time.Second}
	if got.Slaves != 2 || got.Limits != want || got.Index != firstUserIndex {
		t.Fatalf("two offers: %+v, want 2 slaves, index %d, limits %+v", got, firstUserIndex, want)
	}
	if l := got.Limits.load(10); l != 20 {
		t.Errorf("load of 10 bytes %d, want 20 (per byte beats per task)", l)
	}
	c.offer(a, nil)
	if got, _ := c.lookup("sha"); got.Slaves != 1 || got.Limits.MaxInput != 50 || got.Limits.PerTask != 0 {
		t.Fatalf("after a's new offer: %+v", got)
	}
	if names := c.tasksOf(a); len(names) != 0 {
		t.Errorf("a offers %v, want nothing", names)
	}
	c.withdraw(b)
	got, listed := c.lookup("sha")
	if !listed || got.Slaves != 0 || got.Limits.MaxInput != 50 {
		t.Fatalf("offered by none: listed %v %+v; want listed with its last limits", listed, got)
	}
	if set, _ := c.offer(b, []packets.OfferedTask{sha}); set != (balance.TaskSet{}) {
		t.Errorf("a withdrawn session's late offer was taken: %v", set)
	}
	if got, _ := c.lookup("sha"); got.Slaves != 0 {
		t.Errorf("%d slaves after the late offer", got.Slaves)
	}
	if c.names() != "fibonacci, primes, sha" {
		t.Errorf("names %q", c.names())
	}
}

// A slave's own names get indices from 64 on, kept for the run; the 193rd
// name is refused, names already known still go.
func TestCatalogFull(t *testing.T) {
	c := newCatalog()
	for i := range maxUserTasks + 5 {
		s := testSession(uint16(i))
		offer := []packets.OfferedTask{{Name: fmt.Sprintf("t%d", i)}}
		if i > 0 {
			offer = append(offer, packets.OfferedTask{Name: "t0"}) // known: taken even when full
		}
		_, refused := c.offer(s, offer)
		if full := i >= maxUserTasks; full != (len(refused) == 1) {
			t.Fatalf("name %d: refused %v", i, refused)
		}
		c.withdraw(s)
	}
	if v, _ := c.lookup("t0"); v.Index != firstUserIndex {
		t.Errorf("t0 has index %d", v.Index)
	}
	if v, _ := c.lookup(fmt.Sprintf("t%d", maxUserTasks-1)); v.Index != math.MaxUint8 {
		t.Errorf("the last name has index %d, want 255", v.Index)
	}
	if n := len(c.listed()); n != 2+maxUserTasks {
		t.Errorf("%d tasks listed", n)
	}
}

func TestTaskLimitsLoad(t *testing.T) {
	tests := []struct {
		l    taskLimits
		n    int
		want uint64
	}{
		{taskLimits{}, 100, 1},
		{taskLimits{PerTask: 7}, 100, 7},
		{taskLimits{PerByte: 3}, 100, 300},
		{taskLimits{PerTask: 500, PerByte: 3}, 100, 500},
		{taskLimits{PerByte: math.MaxUint64}, 2, math.MaxUint64},
		{taskLimits{PerByte: math.MaxUint64 / 2}, 2, math.MaxUint64 - 1},
	}
	for _, tc := range tests {
		if got := tc.l.load(tc.n); got != tc.want {
			t.Errorf("%+v load(%d) = %d, want %d", tc.l, tc.n, got, tc.want)
		}
	}
}

// FuzzTaskOffer: a TaskOffer from a hostile slave, as the result link
// decodes it, then as the catalogue takes it. Nothing panics; the set the
// slave gets holds exactly the tasks the catalogue lists for it; limits
// stay within the frame cap; withdrawing leaves no slave counted.
func FuzzTaskOffer(f *testing.F) {
	many := packets.TaskOffer{}
	for i := range packets.MaxOfferedTasks {
		many.Tasks = append(many.Tasks, packets.OfferedTask{Name: fmt.Sprintf("t%d", i%40), Load: math.MaxUint64, PerByte: i%2 == 0,
			MaxInput: packets.MaxTaskData, MaxOutput: packets.MaxTaskData, TimeoutMillis: math.MaxUint32})
	}
	for _, o := range []packets.TaskOffer{many, {}, {Tasks: defaultOffer},
		{Tasks: []packets.OfferedTask{{Name: "api"}, {Name: "work", Builtin: true}, {Name: "work"}, {Name: "nope", Builtin: true}}}} {
		f.Add(packets.Encode(o)[packets.HeaderSize:])
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		m, err := packets.DecodePayload(packets.TypeTaskOffer, payload)
		if err != nil {
			return
		}
		offer := m.(packets.TaskOffer)
		c := newCatalog()
		a, b := testSession(1), testSession(2)
		c.offer(b, offer.Tasks)
		set, refused := c.offer(a, offer.Tasks)
		if len(refused) > len(offer.Tasks) {
			t.Fatalf("%d refusals for %d entries", len(refused), len(offer.Tasks))
		}
		names := c.tasksOf(a)
		if len(names)+len(refused) != len(offer.Tasks) {
			t.Fatalf("%d taken + %d refused != %d offered", len(names), len(refused), len(offer.Tasks))
		}
		for _, name := range names {
			v, ok := c.lookup(name)
			if !ok || !set.Has(v.Index) || v.Slaves != 2 {
				t.Fatalf("%s taken but %+v (listed %v, in set %v)", name, v, ok, set.Has(v.Index))
			}
			if v.Builtin == nil && (v.Limits.MaxInput > packets.MaxTaskData || v.Limits.load(v.Limits.MaxInput) == 0) {
				t.Fatalf("%s limits %+v", name, v.Limits)
			}
		}
		for _, v := range c.listed() {
			if set.Has(v.Index) != slices.Contains(names, v.Name) {
				t.Fatalf("set and list disagree on %s", v.Name)
			}
		}
		c.withdraw(a)
		c.withdraw(b)
		for _, v := range c.listed() {
			if v.Slaves != 0 {
				t.Fatalf("%s offered by %d slaves after both withdrew", v.Name, v.Slaves)
			}
		}
	})
}
