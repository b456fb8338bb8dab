package master_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/lbproject/loadbalancer/testutil"
)

// fuzzMaster starts one master (no slave) for a fuzz worker and a client
// that keeps its connections, closed when the worker ends.
func fuzzMaster(f *testing.F) (string, *http.Client) {
	o := testutil.MasterOptions(f)
	o.QueueWait = 0
	o.Log = testutil.Logger(f, "master", "error")
	m, _ := testutil.StartMaster(f, o)
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	f.Cleanup(tr.CloseIdleConnections)
	return "http://" + m.HTTPAddr().String(), &http.Client{Transport: tr}
}

func fuzzGet(t *testing.T, c *http.Client, u, accept string) (int, http.Header, []byte, bool) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, nil, false // not a request a client could send
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := c.Do(req)
	if err != nil {
		if strings.Contains(err.Error(), "invalid header field") {
			return 0, nil, nil, false
		}
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body, true
}

// The status API's query parameters: any query gets 200 with the JSON
// document or 400 with a JSON error, never anything else.
func FuzzStatusQuery(f *testing.F) {
	for _, q := range []string{"", "history=0", "history=180", "history=181", "history=-1", "history=1&history=2",
		"limit=1", "limit=100", "limit=101", "limit=0", "limit=18446744073709551616", "limit=%zz", "history=1e3", "limit= 5"} {
		f.Add(q)
	}
	base, client := fuzzMaster(f)
	f.Fuzz(func(t *testing.T, query string) {
		for _, path := range []string{"/api/slaves", "/api/tasks", "/api/status"} {
			status, hdr, body, sent := fuzzGet(t, client, base+path+"?"+requestLineSafe(query), "")
			if !sent {
				return
			}
			var doc map[string]any
			if err := json.Unmarshal(body, &doc); err != nil || hdr.Get("Content-Type") != "application/json" {
				t.Fatalf("GET %s?%s: %d %q is not a JSON answer (%v)", path, query, status, body, err)
			}
			switch status {
			case http.StatusOK:
			case http.StatusBadRequest:
				if msg, _ := doc["error"].(string); msg == "" {
					t.Fatalf("GET %s?%s: 400 without an error message: %s", path, query, body)
				}
			default:
				t.Fatalf("GET %s?%s: status %d", path, query, status)
			}
		}
	})
}

// requestLineSafe percent-encodes the bytes an HTTP request line cannot
// carry, so that the query reaches the master's handler as the fuzzer wrote
// it.
func requestLineSafe(q string) string {
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		if c := q[i]; c <= ' ' || c >= 0x7f || c == '#' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// The Accept header: whatever it says, errors come as JSON or as one line
// of text, the same way on every path: JSON when a media range is exactly
// application/json, text when nothing mentions json.
func FuzzAccept(f *testing.F) {
	for _, a := range []string{"", "application/json", "text/html, application/json;q=0.9", "*/*", "application/json;", "application/jsonx",
		"APPLICATION/JSON", ",,,", "text/plain;q=1, application/json;charset=utf-8", "application/json; q=\"0"} {
		f.Add(a)
	}
	base, client := fuzzMaster(f)
	f.Fuzz(func(t *testing.T, accept string) {
		var kinds []bool
		for _, path := range []string{"/fibonacci?n=-1", "/fibonacci?n=5", "/sqrt?n=1"} {
			status, hdr, body, sent := fuzzGet(t, client, base+path, accept)
			if !sent {
				return
			}
			if status != http.StatusBadRequest && status != http.StatusServiceUnavailable && status != http.StatusNotFound {
				t.Fatalf("GET %s, Accept %q: status %d", path, accept, status)
			}
			isJSON := hdr.Get("Content-Type") == "application/json"
			var doc struct{ Error string }
			if isJSON && (json.Unmarshal(body, &doc) != nil || doc.Error == "") {
				t.Fatalf("Accept %q: JSON error %q", accept, body)
			}
			if !isJSON && (strings.Count(string(body), "\n") != 1 || !strings.HasSuffix(string(body), "\n")) {
				t.Fatalf("Accept %q: text error %q is not one line", accept, body)
			}
			kinds = append(kinds, isJSON)
		}
		if kinds[0] != kinds[1] || kinds[1] != kinds[2] {
			t.Fatalf("Accept %q: JSON on some paths and not others: %v", accept, kinds)
		}
		exact := false
		for _, part := range strings.Split(accept, ",") {
			exact = exact || strings.EqualFold(strings.TrimSpace(part), "application/json") // media types ignore case
		}
		switch {
		case exact && !kinds[0]:
			t.Fatalf("Accept %q names application/json, answered as text", accept)
		case !strings.Contains(strings.ToLower(accept), "json") && kinds[0]:
			t.Fatalf("Accept %q does not mention JSON, answered as JSON", accept)
		}
	})
}
