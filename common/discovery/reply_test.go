package discovery_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/discovery"
	"github.com/lbproject/loadbalancer/common/logger"
	"github.com/lbproject/loadbalancer/common/packets"
)

// answerEach answers every join request with replies(req, from), in order,
// until the socket closes.
func answerEach(t *testing.T, master *net.UDPConn, replies func(req []byte, from netip.AddrPort) [][]byte) {
	t.Helper()
	done := make(chan struct{})
	t.Cleanup(func() { master.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := master.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			for _, r := range replies(buf[:n], from) {
				_, _ = master.WriteToUDPAddrPort(r, from)
			}
		}
	}()
}

// Join takes only a reply of its own kind and, under a secret, only a sealed
// ACK: a monitor's ACK does not admit a slave, nor a slave's a monitor, and
// a plain ACK is no ACK (only a plain NAK is read, as a refusal).
func TestJoinTakesOnlyTheRightReply(t *testing.T) {
	t.Parallel()
	const secret = "s"
	seal := discovery.NewGuard(secret)
	for _, tc := range []struct {
		name    string
		monitor bool
		secret  string
		decoys  func() [][]byte
	}{
		{"a slave ignores a monitor's ACK", false, "", func() [][]byte {
			return [][]byte{packets.Encode(packets.JoinReply{Monitor: true, Accepted: true, Token: 1})}
		}},
		{"a monitor ignores a slave's ACK", true, "", func() [][]byte {
			return [][]byte{packets.Encode(packets.JoinReply{Accepted: true, Token: 1})}
		}},
		{"a secured slave ignores a plain ACK", false, secret, func() [][]byte {
			return [][]byte{packets.Encode(packets.JoinReply{Accepted: true, Token: 1})}
		}},
		{"a secured slave ignores a sealed ACK of the wrong kind", false, secret, func() [][]byte {
			return [][]byte{seal.Seal(packets.JoinReply{Monitor: true, Accepted: true, Token: 1})}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			master, joiner := listen(t), listen(t)
			const token = 42
			answerEach(t, master, func(req []byte, from netip.AddrPort) [][]byte {
				right := packets.JoinReply{Monitor: tc.monitor, Accepted: true, Token: token}
				last := packets.Encode(right)
				if tc.secret != "" {
					// a sealed reply is bound to the request it answers
					_, nonce, err := discovery.NewGuard(secret).Open(req, from.Addr())
					if err != nil {
						t.Errorf("opening the join request: %v", err)
					}
					right.Request, right.To, right.From = nonce, from, addrOf(master)
					last = seal.Seal(right)
				}
				return append(tc.decoys(), last)
			})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cfg := discovery.Config{Target: addrOf(master), FirstWait: 20 * time.Millisecond, MaxWait: 50 * time.Millisecond,
				ConfirmBurst: 1, Guard: discovery.NewGuard(tc.secret), Log: logger.Discard()}
			got, err := discovery.Join(ctx, joiner, cfg, tc.monitor, confirmFor)
			if err != nil || got.Token != token {
				t.Fatalf("Join = %+v, %v; want token %d, the decoy ignored", got, err, token)
			}
		})
	}
}

// Retries back off from FirstWait, doubling, but never wait longer than
// MaxWait: a silent master hears from the joiner at least every MaxWait
// (+20% jitter).
func TestJoinRetriesAtMaxWait(t *testing.T) {
	t.Parallel()
	master, joiner := listen(t), listen(t)
	requests := silentMaster(master)
	const maxWait = 20 * time.Millisecond
	cfg := discovery.Config{Target: addrOf(master), FirstWait: 10 * time.Millisecond, MaxWait: maxWait, ConfirmBurst: 1, Log: logger.Discard()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = discovery.Join(ctx, joiner, cfg, false, confirmFor)
	}()
	// Uncapped, the waits would be 10, 20, 40, 80, 160, 320 ms...: 12
	// requests would take about 20 s. Capped, about 0.3 s.
	start := time.Now()
	timeout := time.After(5 * time.Second)
	for i := 0; i < 12; i++ {
		select {
		case <-requests:
		case <-timeout:
			t.Fatalf("%d requests in %s: the retries are not capped at MaxWait %s", i, time.Since(start), maxWait)
		}
	}
	cancel()
	<-done
}
