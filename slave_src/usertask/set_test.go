package usertask

import (
	"strings"
	"testing"
)

func TestNewSet(t *testing.T) {
	parse := func(specs ...string) []Spec {
		var out []Spec
		for _, s := range specs {
			sp, err := ParseSpec(s)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, sp)
		}
		return out
	}
	set, err := NewSet(parse("name=sha,exec=sha256sum", "name=up,exec=tr a-z A-Z,load=5"), 2, DefaultLoad)
	if err != nil {
		t.Fatal(err)
	}
	if offers := set.Offers(); len(offers) != 2 || offers[0].Name != "sha" || offers[1].Name != "up" || offers[1].Load != 5 {
		t.Errorf("Offers() = %+v", offers)
	}
	if task, ok := set.Get("up"); !ok || task.Name != "up" {
		t.Errorf("Get(up) = %v, %v", task, ok)
	}
	if _, ok := set.Get("down"); ok {
		t.Error("Get(down) found a task never defined")
	}
	for _, tc := range []struct {
		specs    []Spec
		maxTasks int
		maxLoad  uint64
		want     string
	}{
		{parse("name=a,exec=cat", "name=a,exec=tac"), 5, DefaultLoad, "task a: defined twice"},
		{parse("name=a,exec=cat", "name=b,exec=cat"), 1, DefaultLoad, "2 tasks defined: a slave offers at most 1"},
		{parse("name=a,exec=cat,load=11"), 5, 10, "task a: load: its largest input costs 11, over the slave's max load 10"},
		{parse("name=a,exec=cat,load=2/byte,max-input=6"), 5, 11, "its largest input costs 12"},
		{parse("name=a,exec=no-such-program-here"), 5, DefaultLoad, "task a: exec:"},
	} {
		if _, err := NewSet(tc.specs, tc.maxTasks, tc.maxLoad); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewSet(%+v) = %v, want an error with %q", tc.specs, err, tc.want)
		}
	}
}
