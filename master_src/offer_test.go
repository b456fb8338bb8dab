package master_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lbproject/loadbalancer/common/packets"
	master "github.com/lbproject/loadbalancer/master_src"
	"github.com/lbproject/loadbalancer/testutil"
	"github.com/lbproject/loadbalancer/testutil/apijson"
)

// reverse answers a slave's own task with its input reversed, a built-in
// with "builtin".
func reverse(_ uint64, req packets.Message) packets.TaskResult {
	in, ok := req.(packets.TaskInputRequest)
	if !ok {
		return packets.TaskResult{OK: true, Body: "builtin"}
	}
	out := slices.Clone(in.Input)
	slices.Reverse(out)
	return packets.TaskResult{OK: true, Body: string(out)}
}

func userTask(name string, maxInput uint32) packets.OfferedTask {
	return packets.OfferedTask{Name: name, Load: 1, MaxInput: maxInput}
}

var fibonacciOffer = packets.OfferedTask{Name: "fibonacci", Builtin: true}

func offerMaster(t *testing.T) (*master.Master, string) {
	t.Helper()
	o := testutil.MasterOptions(t)
	o.QueueWait = 200 * time.Millisecond
	m, _ := testutil.StartMaster(t, o)
	return m, "http://" + m.HTTPAddr().String()
}

// taskSlaves is, by task name, how many slaves /api/status says offer it.
func taskSlaves(t *testing.T, base string) map[string]int {
	t.Helper()
	_, _, body := testutil.Get(t, base+"/api/status", "")
	out := map[string]int{}
	for _, k := range apijson.Decode(t, body).Objects(t, "tasks") {
		out[k.Str(t, "name")] = int(k.Num(t, "slaves"))
	}
	return out
}

func waitOffered(t *testing.T, base, task string, slaves int) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, fmt.Sprintf("%d slaves to offer %s", slaves, task), func() bool {
		n, ok := taskSlaves(t, base)[task]
		return ok && n == slaves
	})
}

// A slave's own task goes only to the slaves that offer it; the built-ins
// still go to every slave, the one that never sent an offer included.
func TestOfferRoutesOnlyToOfferingSlaves(t *testing.T) {
	m, base := offerMaster(t)
	offering := joinOfferSlave(t, m, &packets.TaskOffer{Tasks: []packets.OfferedTask{fibonacciOffer, userTask("rev", 100)}}, reverse)
	plain := joinOfferSlave(t, m, nil, reverse)
	waitOffered(t, base, "rev", 1)
	waitOffered(t, base, "fibonacci", 2)
	for i := range 20 {
		in := fmt.Sprintf("abc%d", i)
		status, _, body := do(t, "GET", base+"/rev?input="+in, nil)
		if want := reverse(0, packets.TaskInputRequest{Input: []byte(in)}).Body; status != 200 || string(body) != want {
			t.Fatalf("GET /rev?input=%s: %d %q, want 200 %q", in, status, body, want)
		}
	}
	for range 4 {
		if status, _, _ := do(t, "GET", base+"/fibonacci?n=5", nil); status != 200 {
			t.Fatalf("GET /fibonacci: %d", status)
		}
	}
	var revs int
	for _, req := range offering.requests() {
		if in, ok := req.(packets.TaskInputRequest); ok {
			revs++
			if in.Name != "rev" || !strings.HasPrefix(string(in.Input), "abc") {
				t.Errorf("the offering slave got %+v", in)
			}
		}
	}
	if revs != 20 {
		t.Errorf("the offering slave got %d rev requests, want 20", revs)
	}
	plainFib := 0
	for _, req := range plain.requests() {
		if _, ok := req.(packets.TaskInputRequest); ok {
			t.Fatalf("a slave that offers no rev got %+v", req)
		}
		plainFib++
	}
	if plainFib == 0 {
		t.Error("round robin sent no fibonacci to the slave without an offer")
	}
	// /api/slaves lists each slave's tasks.
	_, _, body := testutil.Get(t, base+"/api/slaves", "")
	var lists []string
	for _, s := range apijson.Decode(t, body).Objects(t, "slaves") {
		lists = append(lists, fmt.Sprint(s["tasks"]))
	}
	slices.Sort(lists)
	if want := []string{"[fibonacci primes]", "[fibonacci rev]"}; !slices.Equal(lists, want) {
		t.Errorf("slaves' tasks %v, want %v", lists, want)
	}
}

// 404 for a task never offered, naming the offered ones; 503 with
// Retry-After for one offered before that no slave offers now (the offer
// withdrawn without a rejoin, then the slave gone); and back to 200 when
// it is offered again.
func TestOfferNotFoundAndUnavailable(t *testing.T) {
	m, base := offerMaster(t)
	s := joinOfferSlave(t, m, &packets.TaskOffer{Tasks: []packets.OfferedTask{fibonacciOffer, userTask("rev", 100)}}, reverse)
	waitOffered(t, base, "rev", 1)

	status, _, body := do(t, "GET", base+"/nosuch?input=x", nil)
	if want := "unknown task \"nosuch\": tasks are fibonacci, primes, rev\n"; status != 404 || string(body) != want {
		t.Errorf("never offered: %d %q, want 404 %q", status, body, want)
	}
	if status, _, _ := do(t, "POST", base+"/nosuch", []byte("x")); status != 404 {
		t.Errorf("POST never offered: %d, want 404", status)
	}

	s.offer(fibonacciOffer) // rev withdrawn, same session
	waitOffered(t, base, "rev", 0)
	status, hdr, body := do(t, "GET", base+"/rev?input=x", nil)
	if status != 503 || hdr.Get("Retry-After") == "" || !strings.Contains(string(body), "no slave offers rev now") {
		t.Errorf("withdrawn: %d %q Retry-After %q, want 503 with Retry-After", status, body, hdr.Get("Retry-After"))
	}
	if status, _, _ := do(t, "GET", base+"/primes?n=5", nil); status != 503 {
		t.Errorf("primes offered by no slave: %d, want 503", status)
	}

	s.offer(fibonacciOffer, userTask("rev", 100))
	waitOffered(t, base, "rev", 1)
	if status, _, body := do(t, "GET", base+"/rev?input=ab", nil); status != 200 || string(body) != "ba" {
		t.Errorf("offered again: %d %q", status, body)
	}
	if m.Slaves() != 1 {
		t.Errorf("%d slaves, want the one that never rejoined", m.Slaves())
	}

	s.leave()
	testutil.WaitFor(t, 10*time.Second, "the slave to leave", func() bool { return m.Slaves() == 0 })
	waitOffered(t, base, "rev", 0)
	status, hdr, _ = do(t, "GET", base+"/rev?input=x", nil)
	if status != 503 || hdr.Get("Retry-After") == "" {
		t.Errorf("slave gone: %d, want 503 with Retry-After", status)
	}
}

// The input of a slave's own task by POST and by GET, its cap (413), a
// binary result as base64 in JSON, a failure as 502, and HEAD running
// nothing.
func TestOfferInputAndResults(t *testing.T) {
	m, base := offerMaster(t)
	fail := func(_ uint64, req packets.Message) packets.TaskResult {
		return packets.TaskResult{Body: "exit status 3: sha: no such file"}
	}
	s := joinOfferSlave(t, m, &packets.TaskOffer{Tasks: []packets.OfferedTask{userTask("rev", 8)}}, reverse)
	joinOfferSlave(t, m, &packets.TaskOffer{Tasks: []packets.OfferedTask{userTask("broken", 8)}}, fail)
	waitOffered(t, base, "rev", 1)
	waitOffered(t, base, "broken", 1)
	const json = "application/json"
	tests := []struct {
		name, method, path, accept string
		body                       []byte
		status                     int
		want                       string // body, or for JSON its result
		wantB64                    []byte // for JSON, its result_base64
	}{
		{"POST text", "POST", "/rev", "", []byte("hello"), 200, "olleh", nil},
		{"POST empty", "POST", "/rev", "", nil, 200, "", nil},
		{"POST at the cap", "POST", "/rev", "", []byte("12345678"), 200, "87654321", nil},
		{"POST over the cap", "POST", "/rev", "", []byte("123456789"), 413, "input of rev too long: at most 8 bytes\n", nil},
		{"GET", "GET", "/rev?input=" + url.QueryEscape("a b&c"), "", nil, 200, "c&b a", nil},
		{"GET empty", "GET", "/rev?input=", "", nil, 200, "", nil},
		{"GET over the cap", "GET", "/rev?input=123456789", "", nil, 413, "input of rev too long: at most 8 bytes\n", nil},
		{"GET no input", "GET", "/rev", "", nil, 400, "missing input: use /rev?input=TEXT (URL-encoded), or POST /rev with the input as the body\n", nil},
		{"GET input twice", "GET", "/rev?input=a&input=b", "", nil, 400, "input given 2 times; give it once: use /rev?input=TEXT (URL-encoded), or POST /rev with the input as the body\n", nil},
		{"JSON text", "POST", "/rev", json, []byte("ab"), 200, "ba", nil},
		{"JSON binary", "POST", "/rev", json, []byte{0xff, 0xfe, 'a'}, 200, "", []byte{'a', 0xfe, 0xff}},
		{"binary", "POST", "/rev", "", []byte{0xff, 0xfe, 'a'}, 200, "a\xfe\xff", nil},
		{"failure", "POST", "/broken", "", []byte("x"), 502, "", nil},
		{"built-in by POST", "POST", "/fibonacci?n=3", "", nil, 405, "method \"POST\" not allowed: use GET\n", nil},
		{"master path by POST", "POST", "/ok", "", nil, 405, "method \"POST\" not allowed: use GET\n", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := do(t, tc.method, base+tc.path, tc.body, "Accept", tc.accept)
			if status != tc.status {
				t.Fatalf("%d %q, want %d", status, body, tc.status)
			}
			switch {
			case tc.name == "failure":
				if !strings.Contains(string(body), "exit status 3: sha: no such file") {
					t.Errorf("502 without the program's message: %q", body)
				}
			case tc.accept == json:
				var a master.TaskAnswer
				if err := jsonDecode(body, &a); err != nil {
					t.Fatal(err)
				}
				b64, _ := base64.StdEncoding.DecodeString(a.ResultBase64)
				if a.Task != "rev" || a.Result != tc.want || !bytes.Equal(b64, tc.wantB64) || a.InputBytes == nil || *a.InputBytes != len(tc.body) {
					t.Errorf("JSON answer %s, want result %q, result_base64 of %q", body, tc.want, tc.wantB64)
				}
			default:
				if string(body) != tc.want {
					t.Errorf("body %q, want %q", body, tc.want)
				}
				wantType := "text/plain; charset=utf-8"
				if !utf8.ValidString(tc.want) {
					wantType = "application/octet-stream" // a result is sent as it came
				}
				if ct := hdr.Get("Content-Type"); status == 200 && ct != wantType {
					t.Errorf("Content-Type %q, want %q", ct, wantType)
				}
				if status == 200 && hdr.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("a result without X-Content-Type-Options: nosniff: a browser could take it for a page")
				}
			}
		})
	}
	before := len(s.requests())
	for _, path := range []string{"/rev?input=abc", "/rev?input=123456789", "/rev"} {
		status, _, _ := do(t, "HEAD", base+path, nil)
		if want := map[string]int{"/rev?input=abc": 200, "/rev?input=123456789": 413, "/rev": 400}[path]; status != want {
			t.Errorf("HEAD %s: %d, want %d", path, status, want)
		}
	}
	if after := len(s.requests()); after != before {
		t.Errorf("HEAD ran %d tasks", after-before)
	}
}

func jsonDecode(b []byte, v any) error { return json.Unmarshal(b, v) }

// The work task is a built-in, but listed and placed only where offered.
func TestWorkListedOnlyWhenOffered(t *testing.T) {
	m, base := offerMaster(t)
	joinOfferSlave(t, m, nil, reverse)
	waitOffered(t, base, "fibonacci", 1)
	if _, ok := taskSlaves(t, base)["work"]; ok {
		t.Fatal("/api/status lists work, which no slave offers")
	}
	if status, _, _ := do(t, "GET", base+"/work?n=1", nil); status != 404 {
		t.Fatalf("GET /work without an offer: %d, want 404", status)
	}
	s := joinOfferSlave(t, m, &packets.TaskOffer{Tasks: []packets.OfferedTask{{Name: "work", Builtin: true}}}, reverse)
	waitOffered(t, base, "work", 1)
	if status, _, body := do(t, "GET", base+"/work?n=1", nil); status != 200 || string(body) != "builtin\n" {
		t.Fatalf("GET /work offered: %d %q", status, body)
	}
	reqs := s.requests()
	if len(reqs) != 1 {
		t.Fatalf("the work slave got %d requests, want 1", len(reqs))
	}
	if req, ok := reqs[0].(packets.TaskRequest); !ok || req.Task != 3 || req.N != 1 {
		t.Errorf("the work slave got %+v, want a TaskRequest for code 3", reqs[0])
	}
}

// A slave's own task failing (its program rejecting the input) is an answer,
// not a sick slave: failures in a row past -eject-after must not eject the
// slave, or bad input would take every slave offering the task out.
func TestOfferFailuresDoNotEject(t *testing.T) {
	m, base := offerMaster(t)
	fail := func(_ uint64, req packets.Message) packets.TaskResult {
		return packets.TaskResult{Body: "exit status 3: bad input"}
	}
	joinOfferSlave(t, m, &packets.TaskOffer{Tasks: []packets.OfferedTask{userTask("broken", 8)}}, fail)
	// A second slave, so the ejection cap (half the pool) allows one.
	joinOfferSlave(t, m, nil, reverse)
	waitOffered(t, base, "broken", 1)
	waitOffered(t, base, "fibonacci", 1)
	for i := range 2 * master.NewOptions().EjectAfter {
		if status, _, body := do(t, "POST", base+"/broken", []byte("x")); status != 502 {
			t.Fatalf("failure %d: %d %q, want 502 every time (the slave answered)", i+1, status, body)
		}
	}
	_, _, body := testutil.Get(t, base+"/api/status", "")
	if n := apijson.Decode(t, body).Num(t, "ejections"); n != 0 {
		t.Errorf("%v ejections after a user task's failures", n)
	}
}

// A built-in's failure is the slave's fault: -eject-after of them in a row
// eject it, and a good answer between them starts the count again.
func TestBuiltinFailuresInARowEject(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.Algorithm, o.EjectAfter = "first_available", 2
	m, _ := testutil.StartMaster(t, o)
	base := "http://" + m.HTTPAddr().String()
	var calls atomic.Int32
	failAllButTheSecond := func(_ uint64, req packets.Message) packets.TaskResult { // fail, answer, fail, fail
		if n := calls.Add(1); n == 2 {
			return reverse(0, req)
		}
		return packets.TaskResult{Body: "the slave broke"}
	}
	joinOfferSlave(t, m, nil, failAllButTheSecond)
	waitOffered(t, base, "fibonacci", 1)
	joinOfferSlave(t, m, nil, reverse) // the ejection cap (half the pool) allows one
	waitOffered(t, base, "fibonacci", 2)
	ejections := func() float64 {
		_, _, body := testutil.Get(t, base+"/api/status", "")
		return apijson.Decode(t, body).Num(t, "ejections")
	}
	for i, want := range []int{502, 200, 502} {
		if status, _, body := do(t, "GET", base+"/fibonacci?n=5", nil); status != want {
			t.Fatalf("request %d: %d %q, want %d", i+1, status, body, want)
		}
	}
	if n := ejections(); n != 0 {
		t.Fatalf("%v ejections after failures with an answer between them, want 0", n)
	}
	if status, _, _ := do(t, "GET", base+"/fibonacci?n=5", nil); status != 502 {
		t.Fatalf("the fourth request: %d, want 502", status)
	}
	if n := ejections(); n != 1 {
		t.Fatalf("%v ejections after %d built-in failures in a row, want 1", n, o.EjectAfter)
	}
}
