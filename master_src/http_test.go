package master

import (
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/lbproject/loadbalancer/common/tasks"
)

// FuzzParseN feeds raw query strings to the input parser: it must never
// panic, and whatever it accepts must be exactly one in-range decimal n.
func FuzzParseN(f *testing.F) {
	for _, s := range []string{"n=0", "n=90", "n=-1", "n=abc", "n=1&n=2", "", "n=", "n=%00", "n=+5", "n=1e3",
		"n=18446744073709551616", "n=0001", "n=%20%201", "x=1", "n=200000", "n=1000001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		for _, task := range tasks.All() {
			n, err := ParseN(q, task)
			if err != nil {
				if strings.ContainsAny(err.Error(), "\n\r") {
					t.Fatalf("multi-line error %q", err)
				}
				continue
			}
			vs := q["n"]
			if len(vs) != 1 || n > task.MaxN {
				t.Fatalf("accepted %q as %d for %s", raw, n, task.Name)
			}
			if parsed, perr := strconv.ParseUint(vs[0], 10, 64); perr != nil || parsed != n {
				t.Fatalf("accepted %q as %d, which is not its decimal value", vs[0], n)
			}
		}
	})
}
