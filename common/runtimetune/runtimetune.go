// Package runtimetune starts a daemon under the Go runtime settings its
// request path wants. The runtime reads them from GODEBUG once, at process
// start, so Restart re-executes the binary with them set.
package runtimetune

import "strings"

// Setting keeps the runtime's monitor thread, sysmon, out of its deep sleep.
// By default sysmon parks whenever every P is idle, and the next system call
// wakes it (a futex wake-up on the request's own path) and resets its tick
// to 20 µs. A daemon that idles between requests pays that for every
// request: one request in flight on 2 cores, sysmon took 29% of the master's
// CPU and a fifth of a slave's. With schedtrace set, sysmon never parks, and
// its tick grows to 10 ms while it finds no processor to take back from a
// system call.
//
// schedtrace also prints a scheduler line to stderr every that many
// milliseconds of the host's uptime: the largest value the runtime takes,
// about 24.8 days, makes that one line at start on a host up longer, and one
// per 24.8 days after.
const Setting = "schedtrace=2147483647"

// Env returns environ with Setting added to GODEBUG, and whether it added it.
// A GODEBUG that sets schedtrace already is the operator's choice and stays
// as it is (GODEBUG=schedtrace=0 keeps the runtime's default).
func Env(environ []string) ([]string, bool) {
	out := make([]string, 0, len(environ)+1)
	godebug, found := "", false
	for _, kv := range environ {
		v, ok := strings.CutPrefix(kv, "GODEBUG=")
		if !ok {
			out = append(out, kv)
			continue
		}
		if !found { // the runtime reads the first GODEBUG, as getenv does
			godebug, found = v, true
		}
	}
	for _, field := range strings.Split(godebug, ",") {
		if strings.HasPrefix(field, "schedtrace=") {
			return environ, false
		}
	}
	if godebug != "" {
		godebug += ","
	}
	return append(out, "GODEBUG="+godebug+Setting), true
}
