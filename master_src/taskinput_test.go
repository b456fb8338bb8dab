package master

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// FuzzReadInput: the input of a slave's own task, from any query or POST
// body. It is taken exactly as sent when at most the cap, refused with 413
// when longer, and any other malformed request is a 400 with a message.
func FuzzReadInput(f *testing.F) {
	for _, seed := range []struct {
		query string
		body  []byte
		post  bool
	}{
		{"input=abc", nil, false}, {"input=", nil, false}, {"", nil, false}, {"input=a&input=b", nil, false},
		{"input=%zz", nil, false}, {"input=a;b", nil, false}, {"input=0123456789abcdefg", nil, false},
		{"", []byte("hello"), true}, {"", bytes.Repeat([]byte{0xff}, 17), true}, {"input=x", nil, true},
	} {
		f.Add(seed.query, seed.body, seed.post)
	}
	const limit = 16
	tv := taskView{Name: "rev", Index: firstUserIndex, Limits: taskLimits{MaxInput: limit}}
	f.Fuzz(func(t *testing.T, query string, body []byte, post bool) {
		r := httptest.NewRequest(http.MethodGet, "/rev", nil)
		if post {
			r = httptest.NewRequest(http.MethodPost, "/rev", bytes.NewReader(body))
		}
		r.URL.RawQuery = query
		in, status, err := readInput(httptest.NewRecorder(), r, tv)
		var want []byte
		wantOK := true
		if post {
			want = body
		} else {
			q, qerr := url.ParseQuery(query)
			vs, ok := q["input"]
			wantOK = qerr == nil && ok && len(vs) == 1
			if wantOK {
				want = []byte(vs[0])
			}
		}
		switch {
		case !wantOK:
			if err == nil || status != http.StatusBadRequest || err.Error() == "" {
				t.Fatalf("query %q: %q, %d, %v; want a 400", query, in, status, err)
			}
		case len(want) > limit:
			if status != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d bytes: %d, %v; want 413", len(want), status, err)
			}
		case err != nil || !bytes.Equal(in, want):
			t.Fatalf("input %q: got %q, %d, %v", want, in, status, err)
		}
	})
}
