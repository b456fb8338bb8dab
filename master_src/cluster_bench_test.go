package master_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/logger"
	"github.com/lbproject/loadbalancer/testutil"
)

// BenchmarkClusterFibonacci serves /fibonacci?n=30 through an in-process
// master and three slaves, 64 requests in flight: a profile of the whole
// request path (go test -bench ClusterFibonacci -cpuprofile cpu.out).
func BenchmarkClusterFibonacci(b *testing.B) {
	o := testutil.MasterOptions(b)
	o.Log = logger.Discard()
	m, _ := testutil.StartMaster(b, o)
	for i := 0; i < 3; i++ {
		so := testutil.SlaveOptions(b, m.DiscoveryAddr().String())
		so.Log = logger.Discard()
		testutil.StartSlave(b, so)
	}
	testutil.WaitFor(b, 10*time.Second, "slaves", func() bool { return m.Slaves() == 3 })
	url := "http://" + m.HTTPAddr().String() + "/fibonacci?n=30"
	tr := &http.Transport{MaxIdleConnsPerHost: 128}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
