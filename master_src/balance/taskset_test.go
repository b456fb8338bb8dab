package balance

import "testing"

func TestTaskSet(t *testing.T) {
	var s TaskSet
	for _, i := range []uint8{0, 1, 63, 64, 200, 255} {
		if s.Has(i) {
			t.Fatalf("empty set has %d", i)
		}
		s.Add(i)
		if !s.Has(i) {
			t.Fatalf("set lacks %d after Add", i)
		}
	}
	for _, i := range []uint8{2, 62, 65, 127, 128, 254} {
		if s.Has(i) {
			t.Errorf("set has %d, never added", i)
		}
	}
}

// A slave that does not offer the task never fits it, whatever its room.
func TestFitsNeedsTheOffer(t *testing.T) {
	f := &Figures{MaxLoad: 100}
	c := &Choice{Task: 70, Load: 1}
	if c.Fits(f) {
		t.Fatal("a slave that offers nothing fits task 70")
	}
	f.Offers.Add(70)
	if !c.Fits(f) {
		t.Fatal("a slave that offers task 70 and has room does not fit it")
	}
	c.Task = 71
	if c.Fits(f) {
		t.Fatal("a slave that offers task 70 fits task 71")
	}
}
