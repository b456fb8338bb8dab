package bench

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The report says which placement rule ran: the textbook one or the real
// master's free-workers-first, in its heading and its JSON.
func TestSimReportNamesTheRule(t *testing.T) {
	t.Parallel()
	for _, free := range []bool{false, true} {
		o := homogeneous(4, 0.5, 2000, "round_robin")
		o.FreeWorkers = free
		out := filepath.Join(t.TempDir(), "sim.json")
		var md strings.Builder
		if _, err := RunSim(o, "bench -sim", &md, out); err != nil {
			t.Fatal(err)
		}
		want := map[bool]string{false: "textbook rules", true: "free workers first"}[free]
		if !strings.Contains(md.String(), want) {
			t.Errorf("free workers %v: the heading lacks %q:\n%s", free, want, md.String())
		}
		raw, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var r SimReport
		if err := json.Unmarshal(raw, &r); err != nil || r.FreeWorkers != free {
			t.Errorf("free workers %v: JSON %s (%v)", free, raw, err)
		}
	}
}
