package master

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// An unknown /api/ path gets a 404 that quotes at most maxQuotedPath bytes
// of it: a huge path does not come back whole.
func TestAPINotFoundQuotesAShortPath(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"/api/nope", "/api/" + strings.Repeat("x", 900_000)} {
		rec := httptest.NewRecorder()
		handleAPINotFound(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusNotFound {
			t.Fatalf("%.20s…: status %d, want 404", path, rec.Code)
		}
		if n := rec.Body.Len(); n > 300 {
			t.Fatalf("%.20s… (%d bytes): answer of %d bytes", path, len(path), n)
		}
		if !strings.Contains(rec.Body.String(), "/api/status") {
			t.Fatalf("answer %q does not list the endpoints", rec.Body.String())
		}
	}
}
