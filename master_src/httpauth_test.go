package master_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/testutil"
)

// With -api-token, task requests and the API need the bearer token; /ok,
// /metrics and the page's shell stay open.
func TestAPIToken(t *testing.T) {
	o := testutil.MasterOptions(t)
	o.HTTP.Token = "let me in"
	m, _ := testutil.StartMaster(t, o)
	testutil.StartSlave(t, testutil.SlaveOptions(t, m.DiscoveryAddr().String()))
	testutil.WaitFor(t, 10*time.Second, "a slave", func() bool { return m.Slaves() == 1 })
	base := "http://" + m.HTTPAddr().String()
	get := func(path, auth string) (int, string) {
		req, err := http.NewRequest("GET", base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	for _, tt := range []struct {
		path, auth string
		want       int
	}{
		{"/fibonacci?n=10", "", 401},
		{"/fibonacci?n=10", "Bearer wrong", 401},
		{"/fibonacci?n=10", "Bearer let me in", 200},
		{"/api/status", "", 401},
		{"/api/slaves", "Bearer let me in", 200},
		{"/ok", "", 200},
		{"/metrics", "", 200},
		{"/", "", 200},
	} {
		if got, body := get(tt.path, tt.auth); got != tt.want {
			t.Errorf("GET %s (%q): %d %q, want %d", tt.path, tt.auth, got, body, tt.want)
		}
	}
}
