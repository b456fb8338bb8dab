package discovery_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/discovery"
	"github.com/lbproject/loadbalancer/common/logger"
	"github.com/lbproject/loadbalancer/common/packets"
)

// sentinel is sent by the test from the slave's socket after Join returns:
// loopback keeps a socket pair's datagrams in order, so once the fake master
// reads it, it has seen everything Join sent.
var sentinel = []byte("end of test")

func listen(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func addrOf(c *net.UDPConn) netip.AddrPort {
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

func confirmFor(token uint64) packets.Message {
	return packets.SlaveJoinConfirm{Token: token, IP: netip.MustParseAddr("127.0.0.1"), LoadPort: 1001, TaskPort: 1002, ResultPort: 1003}
}

// masterLog is what the fake master saw.
type masterLog struct {
	requests int
	confirms []packets.SlaveJoinConfirm
	err      error
}

// fakeMaster NAKs the first join request and ACKs every later one with token
// (after some junk a stranger might send), then collects confirms until the
// sentinel arrives.
func fakeMaster(conn *net.UDPConn, token uint64) <-chan masterLog {
	done := make(chan masterLog, 1)
	go func() {
		var log masterLog
		defer func() { done <- log }()
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				log.err = err
				return
			}
			if string(buf[:n]) == string(sentinel) {
				return
			}
			m, err := packets.Decode(buf[:n])
			if err != nil {
				log.err = fmt.Errorf("undecodable datagram %x: %w", buf[:n], err)
				return
			}
			var replies [][]byte
			switch m := m.(type) {
			case packets.JoinRequest:
				if len(log.confirms) > 0 {
					log.err = errors.New("join request after a confirm")
					return
				}
				log.requests++
				if log.requests == 1 {
					replies = append(replies, packets.Encode(packets.JoinReply{Reason: "not now"}))
				} else {
					replies = append(replies,
						[]byte("junk that is not a frame"),
						packets.Encode(packets.TaskAck{ID: 1}), // a frame, but not a reply
						packets.Encode(packets.JoinReply{Accepted: true, Token: token}))
				}
			case packets.SlaveJoinConfirm:
				log.confirms = append(log.confirms, m)
			default:
				log.err = fmt.Errorf("unexpected %#v", m)
				return
			}
			for _, r := range replies {
				if _, err := conn.WriteToUDPAddrPort(r, from); err != nil {
					log.err = err
					return
				}
			}
		}
	}()
	return done
}

func TestJoinAfterNak(t *testing.T) {
	t.Parallel()
	for _, burst := range []int{0, 1, 7, 10} {
		t.Run(fmt.Sprintf("burst %d", burst), func(t *testing.T) {
			t.Parallel()
			master, slave := listen(t), listen(t)
			token := uint64(0xfeedface00000000) | uint64(burst)
			seen := fakeMaster(master, token)

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cfg := discovery.Config{
				Target:       addrOf(master),
				FirstWait:    100 * time.Millisecond,
				MaxWait:      400 * time.Millisecond,
				ConfirmBurst: burst,
				Log:          logger.Discard(),
			}
			var confirmedToken []uint64
			confirm := func(tok uint64) packets.Message {
				confirmedToken = append(confirmedToken, tok)
				return confirmFor(tok)
			}
			got, err := discovery.Join(ctx, slave, cfg, false, confirm)
			if err != nil {
				t.Fatalf("Join: %v", err)
			}
			if want := (discovery.Master{Addr: addrOf(master), Token: token}); got != want {
				t.Errorf("Join = %+v, want %+v", got, want)
			}
			if len(confirmedToken) != 1 || confirmedToken[0] != token {
				t.Errorf("confirm called with %v, want once with %d", confirmedToken, token)
			}

			if _, err := slave.WriteToUDPAddrPort(sentinel, addrOf(master)); err != nil {
				t.Fatal(err)
			}
			log := <-seen
			if log.err != nil {
				t.Fatalf("fake master: %v", log.err)
			}
			if log.requests < 2 {
				t.Errorf("master saw %d join requests, want at least 2 (NAK, then ACK)", log.requests)
			}
			if len(log.confirms) != burst {
				t.Errorf("master received %d confirms, want ConfirmBurst = %d", len(log.confirms), burst)
			}
			for i, c := range log.confirms {
				if c != confirmFor(token) {
					t.Errorf("confirm %d = %+v, want %+v", i, c, confirmFor(token))
				}
			}
		})
	}
}

// silentMaster reports each join request it receives and never answers.
func silentMaster(conn *net.UDPConn) <-chan []byte {
	got := make(chan []byte, 100)
	go func() {
		defer close(got)
		buf := make([]byte, 1500)
		for {
			n, _, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			got <- append([]byte(nil), buf[:n]...)
		}
	}()
	return got
}

func TestJoinCancelled(t *testing.T) {
	t.Parallel()
	const prompt = 500 * time.Millisecond
	for _, tc := range []struct {
		name string
		// waitRequests is how many requests the master must see before the
		// context is cancelled; -1 cancels before Join starts.
		waitRequests int
		firstWait    time.Duration
		maxWait      time.Duration
		timeout      time.Duration // instead of cancel, when non-zero
		want         error
	}{
		{name: "cancelled before Join", waitRequests: -1, firstWait: time.Minute, maxWait: time.Minute, want: context.Canceled},
		{name: "cancelled while waiting for a reply", waitRequests: 1, firstWait: time.Minute, maxWait: time.Minute, want: context.Canceled},
		{name: "cancelled between quick retries", waitRequests: 5, firstWait: 5 * time.Millisecond, maxWait: 10 * time.Millisecond, want: context.Canceled},
		{name: "deadline", timeout: 100 * time.Millisecond, firstWait: time.Minute, maxWait: time.Minute, want: context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			master, slave := listen(t), listen(t)
			requests := silentMaster(master)
			var ctx context.Context
			var cancel context.CancelFunc
			if tc.timeout > 0 {
				ctx, cancel = context.WithTimeout(context.Background(), tc.timeout)
			} else {
				ctx, cancel = context.WithCancel(context.Background())
			}
			defer cancel()
			if tc.waitRequests < 0 {
				cancel()
			}
			cfg := discovery.Config{
				Target: addrOf(master), FirstWait: tc.firstWait, MaxWait: tc.maxWait,
				ConfirmBurst: 10, Log: logger.Discard(),
			}
			type result struct {
				m   discovery.Master
				err error
				at  time.Time
			}
			done := make(chan result, 1)
			go func() {
				m, err := discovery.Join(ctx, slave, cfg, false, confirmFor)
				done <- result{m, err, time.Now()}
			}()

			for i := 0; i < tc.waitRequests; i++ {
				b := <-requests
				if m, err := packets.Decode(b); err != nil || m != (packets.JoinRequest{}) {
					t.Fatalf("master received %x (%v), want a join request", b, err)
				}
			}
			var cancelledAt time.Time
			if tc.timeout > 0 {
				d, _ := ctx.Deadline()
				cancelledAt = d
			} else {
				cancelledAt = time.Now()
				cancel()
			}
			var r result
			select {
			case r = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Join did not return after its context ended")
			}
			if took := r.at.Sub(cancelledAt); took > prompt {
				t.Errorf("Join returned %v after the context ended, want under %v", took, prompt)
			}
			if !errors.Is(r.err, tc.want) || r.err != ctx.Err() {
				t.Errorf("Join error = %v, want ctx.Err() = %v", r.err, ctx.Err())
			}
			if r.m != (discovery.Master{}) {
				t.Errorf("Join returned %+v with its error", r.m)
			}
			if tc.waitRequests < 0 {
				// Nothing was sent: the sentinel is the first datagram.
				if _, err := slave.WriteToUDPAddrPort(sentinel, addrOf(master)); err != nil {
					t.Fatal(err)
				}
				if b := <-requests; string(b) != string(sentinel) {
					t.Errorf("a cancelled Join sent %x", b)
				}
			}
		})
	}
}

// TestJoinNoListener: with nothing at the target at all, Join keeps trying
// until its context ends.
func TestJoinNoListener(t *testing.T) {
	t.Parallel()
	gone := listen(t)
	target := addrOf(gone)
	gone.Close()
	slave := listen(t)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	cfg := discovery.Config{Target: target, FirstWait: 10 * time.Millisecond, MaxWait: 40 * time.Millisecond, ConfirmBurst: 10, Log: logger.Discard()}
	start := time.Now()
	_, err := discovery.Join(ctx, slave, cfg, false, confirmFor)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Join error = %v, want %v", err, context.DeadlineExceeded)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Join took %v with a 150ms deadline", took)
	}
}
