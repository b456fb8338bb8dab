package master

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
)

// A monitor's life with the master has the shape of a slave's (session.go)
// with one link: acked and linking as for a slave; serving while it asks
// for the slave list; lost when the link fails, when it asks nothing for
// Options.MonitorTimeout, or at shutdown. One monitor at a time: the slot
// frees when its session is lost.

// runMonitor dials the monitor that confirmed its join and answers its
// slave-list requests until the session ends. ctx is the sessions' context.
func (s *session) runMonitor(ctx context.Context, c packets.MonitorJoinConfirm) error {
	m := s.m
	defer m.reg.lose(s)
	d := net.Dialer{Timeout: m.opts.JoinTimeout}
	conn, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(s.key.IP, c.Port).String())
	if err != nil {
		return fmt.Errorf("dialing monitor link: %w", err)
	}
	conn = s.keys.Master(conn, packets.LinkMonitor)
	defer conn.Close()
	hello := packets.LinkHello{Token: s.token, Link: packets.LinkMonitor, PollIntervalMillis: uint32(m.opts.PollInterval / time.Millisecond)}
	if err := packets.NewWriter(conn).Write(hello); err != nil {
		return fmt.Errorf("greeting monitor link: %w", err)
	}
	if !m.reg.serve(s) {
		return errShuttingDown
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	m.log.Info("monitor joined", "monitor", s.key.nodeKey)
	err = m.answerMonitor(conn)
	if ctx.Err() != nil {
		err = errShuttingDown
	}
	m.log.Warning("monitor left", "monitor", s.key.nodeKey, "cause", err)
	return nil
}

func (m *Master) answerMonitor(conn net.Conn) error {
	r, w := bufio.NewReader(conn), packets.NewWriter(conn)
	for {
		if err := conn.SetReadDeadline(time.Now().Add(m.opts.MonitorTimeout)); err != nil {
			return err
		}
		msg, err := packets.ReadFrame(r)
		if err != nil {
			return fmt.Errorf("monitor link: %w", err)
		}
		req, ok := msg.(packets.SlaveListRequest)
		if !ok {
			return fmt.Errorf("monitor link: unexpected %s", msg.Type())
		}
		if err := w.Write(packets.SlaveList{Seq: req.Seq, Slaves: m.pool.entries()}); err != nil {
			return fmt.Errorf("monitor link: %w", err)
		}
	}
}
