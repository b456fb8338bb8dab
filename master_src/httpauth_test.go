package master_test

import (
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
		if got, _, body := do(t, "GET", base+tt.path, nil, "Authorization", tt.auth); got != tt.want {
			t.Errorf("GET %s (%q): %d %q, want %d", tt.path, tt.auth, got, body, tt.want)
		}
	}
}
