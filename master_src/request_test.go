package master_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"
)

// noKeepAlive gives each request a connection of its own: an answer that
// closes its connection (a huge path, a refused request) cannot fail the
// next request on it.
var noKeepAlive = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Minute}

// do makes one request and returns the answer's status, headers and body.
// header is name, value pairs; a pair whose value is "" sets nothing, so a
// table's empty column means "not sent".
func do(t *testing.T, method, url string, body []byte, header ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] != "" {
			req.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := noKeepAlive.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}
