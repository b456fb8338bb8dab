package discovery_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/discovery"
	"github.com/lbproject/loadbalancer/common/logger"
	"github.com/lbproject/loadbalancer/common/packets"
)

const secret = "the cluster's secret"

func listenOn(t *testing.T, ip string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(ip), 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// lines is a log that the test reads.
type lines struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lines) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

func newLog(t *testing.T, out *lines) *logger.Logger {
	t.Helper()
	log, err := logger.New("test", out, "debug")
	if err != nil {
		t.Fatal(err)
	}
	return log
}

// answerer reads join requests on conn and answers each through reply,
// which returns the datagrams to send and the socket to send them from.
func answerer(t *testing.T, conn *net.UDPConn, g *discovery.Guard, reply func(req packets.JoinRequest, nonce uint64, from netip.AddrPort) ([]byte, *net.UDPConn)) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			m, nonce, err := g.Open(buf[:n], from.Addr())
			req, ok := m.(packets.JoinRequest)
			if err != nil || !ok {
				continue
			}
			if b, via := reply(req, nonce, from); b != nil {
				_, _ = via.WriteToUDPAddrPort(b, from)
			}
		}
	}()
	t.Cleanup(func() { conn.Close(); wg.Wait() })
}

// With a secret, a node accepts only a reply bound to its latest request,
// naming its own address, from the address that sent it; in unicast mode
// only from the master it was given. Row 1 of issue 13: a stranger that
// forwards the master's ACK (or replays a request and forwards the answer)
// gets nothing.
func TestJoinAcceptsOnlyBoundReplies(t *testing.T) {
	t.Parallel()
	type reply = packets.JoinReply
	tests := []struct {
		name    string
		unicast bool
		// mutate turns the right reply into the one sent; fromStranger
		// sends it from the stranger's socket.
		mutate       func(r *reply, master, stranger netip.AddrPort)
		fromStranger bool
		secret       string // the answerer's; "" means the cluster's
		want         bool
	}{
		{"the right reply", false, func(*reply, netip.AddrPort, netip.AddrPort) {}, false, "", true},
		{"another request's nonce", false, func(r *reply, _, _ netip.AddrPort) { r.Request++ }, false, "", false},
		{"naming another requester", false, func(r *reply, _, s netip.AddrPort) { r.To = s }, false, "", false},
		{"naming another master", false, func(r *reply, _, s netip.AddrPort) { r.From = s }, false, "", false},
		{"unbound", false, func(r *reply, _, _ netip.AddrPort) { r.To, r.From = netip.AddrPort{}, netip.AddrPort{} }, false, "", false},
		{"forwarded by a stranger", false, func(*reply, netip.AddrPort, netip.AddrPort) {}, true, "", false},
		{"another secret", false, func(*reply, netip.AddrPort, netip.AddrPort) {}, false, "guess", false},
		{"a stranger with the secret, broadcast", false, func(r *reply, _, s netip.AddrPort) { r.From = s }, true, "", true},
		{"a stranger with the secret, unicast", true, func(r *reply, _, s netip.AddrPort) { r.From = s }, true, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			master, stranger, node := listenOn(t, "127.0.0.1"), listenOn(t, "127.0.0.2"), listenOn(t, "127.0.0.1")
			g := discovery.NewGuard(secret)
			if tt.secret != "" {
				g = discovery.NewGuard(tt.secret)
			}
			masterAddr, strangerAddr := addrOf(master), addrOf(stranger)
			answerer(t, master, discovery.NewGuard(secret), func(req packets.JoinRequest, nonce uint64, from netip.AddrPort) ([]byte, *net.UDPConn) {
				if req.From != from {
					t.Errorf("the request claims %s, sent from %s", req.From, from)
				}
				r := reply{Accepted: true, Token: 5, Request: nonce, To: from, From: masterAddr}
				tt.mutate(&r, masterAddr, strangerAddr)
				via := master
				if tt.fromStranger {
					via = stranger
				}
				return g.Seal(r), via
			})
			cfg := discovery.Config{Target: masterAddr, Unicast: tt.unicast, FirstWait: 50 * time.Millisecond, MaxWait: 100 * time.Millisecond,
				ConfirmBurst: 1, Guard: discovery.NewGuard(secret), Log: logger.Discard()}
			ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
			defer cancel()
			got, err := discovery.Join(ctx, node, cfg, false, confirmFor)
			if tt.want != (err == nil) {
				t.Fatalf("Join = %+v, %v; want accepted %v", got, err, tt.want)
			}
			if tt.want && (got.Link == nil || got.Token != 5) {
				t.Fatalf("accepted %+v: want token 5 and link keys", got)
			}
		})
	}
}

// Without a secret, unicast mode still ignores answers from anywhere but
// the master named.
func TestUnicastJoinIgnoresOtherAddresses(t *testing.T) {
	t.Parallel()
	master, stranger, node := listenOn(t, "127.0.0.1"), listenOn(t, "127.0.0.2"), listenOn(t, "127.0.0.1")
	answerer(t, master, discovery.NewGuard(""), func(packets.JoinRequest, uint64, netip.AddrPort) ([]byte, *net.UDPConn) {
		return packets.Encode(packets.JoinReply{Accepted: true, Token: 5}), stranger
	})
	cfg := discovery.Config{Target: addrOf(master), Unicast: true, FirstWait: 50 * time.Millisecond, MaxWait: 100 * time.Millisecond,
		ConfirmBurst: 1, Log: logger.Discard()}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if got, err := discovery.Join(ctx, node, cfg, false, confirmFor); err == nil {
		t.Fatalf("joined %+v: an answer from another address than -master", got)
	}
}

// A refused node backs off as if unanswered, and logs the reason once while
// it does not change. Row 4 of issue 13: it used to ask again at once, 553
// requests and warnings in 10 s.
func TestRefusedJoinBacksOff(t *testing.T) {
	t.Parallel()
	master, node := listenOn(t, "127.0.0.1"), listenOn(t, "127.0.0.1")
	var mu sync.Mutex
	requests := 0
	answerer(t, master, discovery.NewGuard(""), func(packets.JoinRequest, uint64, netip.AddrPort) ([]byte, *net.UDPConn) {
		mu.Lock()
		defer mu.Unlock()
		requests++
		return packets.Encode(packets.JoinReply{Reason: "the pool is full"}), master
	})
	var out lines
	cfg := discovery.Config{Target: addrOf(master), FirstWait: 100 * time.Millisecond, MaxWait: 400 * time.Millisecond,
		ConfirmBurst: 1, Log: newLog(t, &out)}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	if _, err := discovery.Join(ctx, node, cfg, false, confirmFor); err == nil {
		t.Fatal("joined a master that refuses")
	}
	mu.Lock()
	defer mu.Unlock()
	// waits of about 100, 200, 400, 400, 400 ms: 5 requests, 6 with jitter
	if requests < 3 || requests > 7 {
		t.Fatalf("%d requests in 1.5 s, want about 5", requests)
	}
	if n := out.count("master refused join"); n != 1 {
		t.Fatalf("the unchanged reason was logged %d times, want once:\n%s", n, out.b.String())
	}
}

// A node with a secret that hears answers it cannot authenticate says why,
// once a minute per source, and keeps looking; a node with no master in
// sight says so regularly, with what to check. Rows 5 and 6 of issue 13.
func TestJoinExplainsSilence(t *testing.T) {
	t.Parallel()
	master, node := listenOn(t, "127.0.0.1"), listenOn(t, "127.0.0.1")
	other := discovery.NewGuard("a mistyped secret")
	answerer(t, master, other, func(packets.JoinRequest, uint64, netip.AddrPort) ([]byte, *net.UDPConn) {
		return nil, nil // the master cannot open the request either: it stays silent
	})
	var out lines
	cfg := discovery.Config{Target: addrOf(master), FirstWait: 50 * time.Millisecond, MaxWait: 100 * time.Millisecond,
		StillLooking: 300 * time.Millisecond, ConfirmBurst: 1, Guard: discovery.NewGuard(secret), Log: newLog(t, &out)}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	// An acceptance in clear is no master refusing for want of the secret
	// (a master that cannot open the request cannot accept it): from
	// another host, it must not be explained as one.
	stranger := listenOn(t, "127.0.0.2")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // answers the node cannot authenticate, many of them: sealed with another secret, and in clear
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			switch i % 3 {
			case 0:
				_, _ = master.WriteToUDPAddrPort(other.Seal(packets.JoinReply{Accepted: true, Token: 9}), addrOf(node))
			case 1:
				_, _ = master.WriteToUDPAddrPort(packets.Encode(packets.JoinReply{Reason: "this master requires the shared secret"}), addrOf(node))
			default:
				_, _ = stranger.WriteToUDPAddrPort(packets.Encode(packets.JoinReply{Accepted: true, Token: 9}), addrOf(node))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	if _, err := discovery.Join(ctx, node, cfg, false, confirmFor); err == nil {
		t.Fatal("joined with answers it cannot authenticate")
	}
	wg.Wait()
	if n := out.count("check that every node has the same secret"); n != 2 {
		t.Errorf("%d warnings about the secret, want one per kind of answer:\n%s", n, out.b.String())
	}
	if n := out.count("answer without the secret ignored"); n != 1 {
		t.Errorf("%d answers in clear explained as a master without the secret, want 1 (the refusal, not the stranger's acceptance):\n%s", n, out.b.String())
	}
	if n := out.count("still looking for a master"); n < 2 || out.count("-iface") < n {
		t.Errorf("%d lines saying it is still looking (with what to check), want 2 or 3:\n%s", n, out.b.String())
	}
}
