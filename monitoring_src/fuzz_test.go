package monitor

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/logger"
	"github.com/lbproject/loadbalancer/common/packets"
)

// FuzzMonitorLink: whatever the master answers on the monitor link, the
// monitor either takes a slave list for its own request, grouped into
// sorted hosts, or fails the round; it never panics.
func FuzzMonitorLink(f *testing.F) {
	f.Add(packets.Encode(packets.SlaveList{Seq: 1}))
	f.Add(packets.Encode(packets.SlaveList{Seq: 1, Slaves: []packets.SlaveEntry{{IP: netip.MustParseAddr("10.0.0.3"), ID: 2}, {IP: netip.MustParseAddr("10.0.0.2"), ID: 9}, {IP: netip.MustParseAddr("10.0.0.2"), ID: 1}}}))
	f.Add(packets.Encode(packets.SlaveList{Seq: 2}))
	f.Add(packets.Encode(packets.TaskAck{ID: 1}))
	f.Add([]byte{packets.Version, byte(packets.TypeSlaveList), 0, 0, 0, 6, 0, 0, 0, 1, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, answer []byte) {
		ours, theirs := net.Pipe()
		defer ours.Close()
		go func() {
			defer theirs.Close()
			if _, err := packets.ReadFrame(theirs); err == nil { // the request
				_, _ = theirs.Write(answer)
			}
		}()
		entries, err := askSlaves(ours, bufio.NewReader(ours), packets.NewWriter(ours), 1, 5*time.Second)
		if err != nil {
			return
		}
		m, derr := packets.ReadFrame(bytes.NewReader(answer))
		if list, ok := m.(packets.SlaveList); derr != nil || !ok || list.Seq != 1 {
			t.Fatalf("took %x (%#v, %v) for the answer to request 1", answer, m, derr)
		}
		hosts := groupByHost(entries)
		n := 0
		for i, h := range hosts {
			n += len(h.Slaves)
			if i > 0 && hosts[i-1].IP.Compare(h.IP) >= 0 {
				t.Fatalf("hosts out of order: %v", hosts)
			}
			if !slices.IsSortedFunc(h.Slaves, func(a, b SlaveRef) int { return int(a.ID) - int(b.ID) }) {
				t.Fatalf("slaves of %s out of order: %v", h.IP, h.Slaves)
			}
		}
		if n != len(entries) {
			t.Fatalf("%d entries grouped into %d slaves", len(entries), n)
		}
	})
}

// cannedTransport answers every request with the fuzzer's status and body.
type cannedTransport struct {
	status int
	body   []byte
}

func (c cannedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: c.status, Status: strconv.Itoa(c.status) + " canned", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(bytes.NewReader(c.body)),
		ContentLength: int64(len(c.body)), Request: req,
	}, nil
}

// FuzzGrafanaAnswers: whatever Grafana answers (status and JSON body, to
// every call), a Sync returns, never panics, manages only datasources named
// as ours, and never puts the key in its error.
func FuzzGrafanaAnswers(f *testing.F) {
	f.Add(200, []byte(`[]`))
	f.Add(200, []byte(`[{"id":1,"uid":"lb-10-0-0-2","name":"lb-10.0.0.2","type":"prometheus","url":"http://10.0.0.2:9090","readOnly":true}]`))
	f.Add(200, []byte(`[{"name":"lb-10.0.0.2","url":7}]`))
	f.Add(200, []byte(`{"id":1,"uid":"x","version":3,"status":"success"}`))
	f.Add(409, []byte(`{"message":"data source with the same name already exists"}`))
	f.Add(401, []byte(`{"message":"invalid API key"}`))
	f.Add(502, []byte(`<html>bad gateway</html>`))
	f.Add(200, []byte(`null`))
	f.Add(204, []byte(``))
	const key = "glsa_fuzzKey_0123456789"
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 999 {
			return
		}
		g, err := NewGrafana(GrafanaOptions{URL: "http://grafana.invalid:3000", Key: key, Log: logger.Discard(), Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		g.hc.Transport = statusRecorder{next: cannedTransport{status: status, body: body}}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = g.Sync(ctx, hostList("10.0.0.2", "10.0.0.3"))
		if err != nil && strings.Contains(err.Error(), key) {
			t.Fatalf("the key in the error: %v", err)
		}
		for _, name := range g.ManagedDatasources() {
			if _, ok := managedIP(name); !ok {
				t.Fatalf("manages %q, not a name of ours", name)
			}
		}
		if (status < 200 || status > 299) && err == nil {
			t.Fatalf("Sync succeeded with every answer %d", status)
		}
	})
}
