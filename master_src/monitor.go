package master

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
)

// serveMonitor dials the monitor that confirmed its join and answers its
// slave-list requests until the link fails or the monitor falls silent for
// MonitorTimeout. One monitor at a time: the slot frees when its link goes.
func (m *Master) serveMonitor(ctx context.Context, key SlaveKey, c packets.MonitorJoinConfirm, token uint64, joined func()) error {
	d := net.Dialer{Timeout: m.opts.JoinTimeout}
	conn, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(key.IP, c.Port).String())
	if err != nil {
		return fmt.Errorf("dialing monitor link: %w", err)
	}
	conn = linkSessionFrom(ctx).Master(conn, packets.LinkMonitor)
	defer conn.Close()
	hello := packets.LinkHello{Token: token, Link: packets.LinkMonitor, PollIntervalMillis: uint32(m.opts.PollInterval / time.Millisecond)}
	if err := packets.NewWriter(conn).Write(hello); err != nil {
		return fmt.Errorf("greeting monitor link: %w", err)
	}
	if !m.setMonitor(conn) {
		return errors.New("master shutting down")
	}
	defer m.setMonitor(nil)
	joined()
	m.log.Info("monitor joined", "monitor", key)
	err = m.answerMonitor(conn)
	m.log.Warning("monitor left", "monitor", key, "cause", err)
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

// setMonitor records the live monitor link (nil when it is gone); it fails
// once shutdown has begun.
func (m *Master) setMonitor(conn net.Conn) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if conn != nil && m.closing {
		return false
	}
	m.monitor = conn
	return true
}

func (m *Master) monitorConnected() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.monitor != nil
}
