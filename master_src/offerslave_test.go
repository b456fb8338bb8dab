package master_test

import (
	"bufio"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/packets"
	master "github.com/lbproject/loadbalancer/master_src"
)

// offerSlave is a slave played through the packets package: it joins, may
// send TaskOffers at any time, answers load polls, and answers every task
// (TaskRequest or TaskInputRequest) with answer's result. It keeps the
// requests it received.
type offerSlave struct {
	t     *testing.T
	conns [3]net.Conn

	mu       sync.Mutex
	results  *packets.Writer
	received []packets.Message
}

// answerFunc makes the result of one task request (a TaskRequest or a
// TaskInputRequest) with wire id id.
type answerFunc func(id uint64, req packets.Message) packets.TaskResult

// joinOfferSlave joins m; when offer is not nil it sends it first on the
// result link, as a slave of the offers protocol does.
func joinOfferSlave(t *testing.T, m *master.Master, offer *packets.TaskOffer, answer answerFunc) *offerSlave {
	t.Helper()
	h := newHandNode(t, m.DiscoveryAddr())
	token := h.wantAccept(false)
	l := listenLinks(t)
	h.send(l.confirm(token, loopback))
	s := &offerSlave{t: t, conns: l.accept(t, token)}
	s.results = packets.NewWriter(s.conns[2])
	if offer != nil {
		s.offer(offer.Tasks...)
	}
	answerFirstPoll(t, s.conns[0])
	_ = s.conns[0].SetDeadline(time.Time{})
	_ = s.conns[1].SetDeadline(time.Time{})
	var loops sync.WaitGroup
	loops.Go(func() { s.serveLoad() })
	loops.Go(func() { s.serveTasks(answer) })
	t.Cleanup(func() {
		for _, c := range s.conns {
			_ = c.Close()
		}
		loops.Wait()
	})
	return s
}

// offer sends a TaskOffer on the result link.
func (s *offerSlave) offer(tasks ...packets.OfferedTask) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.results.Write(packets.TaskOffer{Tasks: tasks}); err != nil {
		s.t.Fatal(err)
	}
}

// leave closes the slave's links, as a crash does.
func (s *offerSlave) leave() {
	for _, c := range s.conns {
		_ = c.Close()
	}
}

// requests returns the task requests the slave received so far.
func (s *offerSlave) requests() []packets.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]packets.Message(nil), s.received...)
}

func (s *offerSlave) serveLoad() {
	r, w := bufio.NewReader(s.conns[0]), packets.NewWriter(s.conns[0])
	for {
		m, err := packets.ReadFrame(r)
		if err != nil {
			return
		}
		if req, ok := m.(packets.LoadRequest); ok {
			if w.Write(packets.LoadReport{Seq: req.Seq, MaxLoad: 1 << 40, Factor: 1}) != nil {
				return
			}
		}
	}
}

func (s *offerSlave) serveTasks(answer answerFunc) {
	r := packets.NewFrameReader(s.conns[1], 64<<10)
	for {
		m, err := r.Read()
		if err != nil {
			return
		}
		var id uint64
		switch req := m.(type) {
		case packets.TaskRequest:
			id = req.ID
		case packets.TaskInputRequest:
			id = req.ID
		default:
			continue // LeaveAck and the like
		}
		res := answer(id, m)
		res.ID = id
		s.mu.Lock()
		s.received = append(s.received, m)
		err = s.results.Write(res)
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}
