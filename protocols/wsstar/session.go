package wsstar

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ws-star/rendezvous/internal/limits"
	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
	"github.com/ws-star/rendezvous/registry"
)

// idleTimeout closes a stream that has joined nothing for this long: an idle
// stream would otherwise hold one of its peer's stream slots forever.
const idleTimeout = time.Minute

// session is one /ws-star/1.0.0 stream. Its fields are guarded by s.mu,
// except str, which only the reader and writer goroutines use.
type session struct {
	s    *Service
	str  network.Stream
	peer peer.ID
	ps   *peerState

	views     map[string]*sessionView
	ctrl      [][]byte // acks, snapshots and Closed, in order
	ctrlBytes int
	flushDue  bool
	lastFlush time.Time // when the writer last took the views' changes
	closing   bool      // the writer sends ctrl, then closes the stream
	reset     bool      // ... or resets it
	goodbye   bool      // ... or, at shutdown, closes only its side: see Service.close
	writing   bool      // a writer goroutine runs; there is never more than one
	ended     bool      // the writer closed or reset the stream; none starts again

	drained    chan struct{} // the writer took the control queue
	writerDone chan struct{} // closed once the writer has ended the stream
}

// maxCtrlBytes is how much of acks and snapshots may wait for the writer
// before the reader stops reading: a client that sends joins but does not
// read cannot grow the queue.
const maxCtrlBytes = 256 << 10

type sessionView struct {
	v        *view
	announce bool
	mem      int // bytes reserved on the stream scope
}

func (sess *session) queue(frame []byte) {
	if frame == nil {
		return
	}
	sess.ctrl = append(sess.ctrl, frame)
	sess.ctrlBytes += len(frame)
	sess.wakeWriter()
}

// wakeWriter makes sure a writer runs; it runs under s.mu. The writer exits
// once it finds, under s.mu, nothing left to do, so a wake-up is never lost
// and an idle stream costs no goroutine (a node holds thousands of them).
func (sess *session) wakeWriter() {
	if sess.writing || sess.ended {
		return
	}
	sess.writing = true
	go sess.writeLoop()
}

func (s *Service) handleStream(str network.Stream) {
	if err := str.Scope().SetService(ServiceName); err != nil {
		s.log.Debug("stream refused by resource manager", "peer", str.Conn().RemotePeer(), "err", err)
		_ = str.Reset()
		return
	}
	p := str.Conn().RemotePeer()
	sess := &session{
		s:          s,
		str:        str,
		peer:       p,
		views:      make(map[string]*sessionView),
		drained:    make(chan struct{}, 1),
		writerDone: make(chan struct{}),
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = str.Reset()
		return
	}
	// Close waits for the handlers it did not turn away: counted under s.mu,
	// where Close marks the service closed before it waits.
	s.wg.Add(1)
	defer s.wg.Done()
	ps := s.peerLocked(p)
	if ps.streams >= s.cfg.lim.MaxStreamsPerPeer {
		s.mu.Unlock()
		s.refuseStream(str, p)
		return
	}
	ps.streams++
	sess.ps = ps
	if ps.streams == 1 {
		s.h.ConnManager().Protect(p, protectTag)
	}
	s.sessions[sess] = struct{}{}
	s.mt.StreamsOpen(len(s.sessions))
	s.mu.Unlock()

	err := sess.readLoop()
	// End of input is a clean leave (js-libp2p's close() only closes its
	// sending side) unless the whole connection went: a muxer that loses its
	// connection also ends its streams' input with EOF.
	clean := errors.Is(err, io.EOF) && !str.Conn().IsClosed()
	reason := registry.ReasonDisconnected
	if clean {
		reason = registry.ReasonUnregistered
	}
	s.log.Debug("stream ended", "peer", p, "err", err, "clean", clean)
	s.endSession(sess, reason, !clean)
}

// refuseStream answers the first Join of a stream over the per-peer cap with
// E_NOT_AUTHORIZED instead of a silent reset, then closes it.
func (s *Service) refuseStream(str network.Stream, p peer.ID) {
	s.log.Debug("too many streams", "peer", p)
	s.cfg.limits.Refused(limits.WSStarStreamsPerPeer)
	// Close does not wait out the read deadline: it cancels s.ctx.
	stop := context.AfterFunc(s.ctx, func() { _ = str.Reset() })
	defer stop()
	_ = str.SetDeadline(time.Now().Add(min(s.cfg.lim.WriteTimeout.D(), 5*time.Second)))
	b, err := readFrame(bufio.NewReader(str), MaxClientMessageSize)
	if err == nil {
		if msg, err := DecodeClientMessage(b); err == nil && msg.GetJoin() != nil {
			s.mt.JoinAnswered(pb.JoinAck_E_NOT_AUTHORIZED)
			_, _ = str.Write(ackFrame(&pb.JoinAck{Ns: msg.GetJoin().GetNs(), Status: pb.JoinAck_E_NOT_AUTHORIZED,
				StatusText: limits.Text("too many streams for this peer", limits.WSStarStreamsPerPeer)}))
		}
	}
	_ = str.Close()
}

func (sess *session) readLoop() error {
	s := sess.s
	r := bufio.NewReaderSize(sess.str, 1024)
	for {
		s.mu.Lock()
		idle := len(sess.views) == 0
		backlog := sess.ctrlBytes > maxCtrlBytes
		s.mu.Unlock()
		if backlog {
			select {
			case <-sess.drained:
			case <-sess.writerDone:
				return network.ErrReset
			}
			continue
		}
		if idle {
			_ = sess.str.SetReadDeadline(time.Now().Add(idleTimeout))
		} else {
			_ = sess.str.SetReadDeadline(time.Time{})
		}
		b, err := readFrame(r, MaxClientMessageSize)
		if err != nil {
			return err
		}
		msg, err := DecodeClientMessage(b)
		if err != nil {
			return err
		}
		switch {
		case msg.GetJoin() != nil:
			sess.join(msg.GetJoin())
		case msg.GetLeave() != nil:
			sess.leave(msg.GetLeave().GetNs())
		}
		// A message with no known field is ignored, so that later versions can
		// add client messages.
	}
}

// join answers one Join, going forward only: the checks and the
// reservations under s.mu, the registry write (if it announces) under no
// lock of the service, then the feeder opens the view and queues the ack and
// the snapshot for the writer.
func (sess *session) join(j *pb.Join) {
	s := sess.s
	ns := j.GetNs()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	maxPeers, mem, refused := sess.admitLocked(j)
	if refused {
		s.mu.Unlock()
		return
	}
	s.opening++
	announce := j.GetAnnounce()
	if announce {
		sess.ps.announces[ns]++
		sess.ps.writes++
		s.queryRecordLocked(sess.peer, sess.ps)
	}
	s.mu.Unlock()

	if announce {
		if err := s.syncMembership(sess.ps, sess.peer, ns, registry.ReasonUnregistered, false); err != nil {
			s.mu.Lock()
			s.opening--
			sess.ps.announces[ns]--
			if sess.ps.announces[ns] <= 0 {
				delete(sess.ps.announces, ns)
			}
			sess.str.Scope().ReleaseMemory(mem)
			st, text := statusOf(err)
			sess.rejectLocked(ns, st, text, registry.LimitOf(err))
			s.mu.Unlock()
			return
		}
	}

	req := &openRequest{sess: sess, ns: ns, max: maxPeers, announce: announce, mem: mem, done: make(chan struct{})}
	select {
	case s.opens <- req:
		<-req.done
	case <-s.ctx.Done():
		s.mu.Lock()
		sess.abandonJoinLocked(ns, announce, mem)
		s.mu.Unlock()
	}
}

// abandonJoinLocked undoes an accepted Join whose view will not open
// because the service closed: no ack, as for any message read after Close;
// the membership it wrote is removed. It runs under s.mu.
func (sess *session) abandonJoinLocked(ns string, announce bool, mem int) {
	s := sess.s
	s.opening--
	sess.str.Scope().ReleaseMemory(mem)
	if !announce {
		return
	}
	sess.ps.announces[ns]--
	if sess.ps.announces[ns] <= 0 {
		delete(sess.ps.announces, ns)
		s.syncLater(sess.ps, sess.peer, ns, registry.ReasonDisconnected, false)
	}
}

// admitLocked runs the checks of a Join and reserves its memory; a refused
// Join has its ack queued. It runs under s.mu.
func (sess *session) admitLocked(j *pb.Join) (maxPeers, mem int, refused bool) {
	s := sess.s
	ns := j.GetNs()
	lim := s.cfg.lim
	if err := s.cfg.policy.Check(ns); err != nil {
		st, text := statusOf(err)
		sess.rejectLocked(ns, st, text, registry.LimitOf(err))
		return 0, 0, true
	}
	switch {
	case sess.views[ns] != nil:
		sess.rejectLocked(ns, pb.JoinAck_E_INVALID_NAMESPACE, "already joined", "")
		return 0, 0, true
	case len(sess.views) >= lim.MaxJoinsPerStream:
		sess.rejectLocked(ns, pb.JoinAck_E_NOT_AUTHORIZED, "too many namespaces joined on this stream", limits.JoinsPerStream)
		return 0, 0, true
	case !sess.ps.limiter.Allow():
		sess.rejectLocked(ns, pb.JoinAck_E_UNAVAILABLE, "join rate exceeded", limits.JoinRate)
		return 0, 0, true
	case s.t.count+s.opening >= lim.MaxViews:
		sess.rejectLocked(ns, pb.JoinAck_E_UNAVAILABLE, "node view limit reached", limits.Views)
		return 0, 0, true
	}
	maxPeers = int(j.GetMaxPeers())
	if maxPeers == 0 {
		maxPeers = lim.DefaultMaxPeers
	}
	maxPeers = min(maxPeers, s.cfg.policy.MaxViewSizeOf(ns, lim.MaxPeers))
	mem = maxPeers * viewEntryBytes
	if err := sess.str.Scope().ReserveMemory(mem, network.ReservationPriorityMedium); err != nil {
		sess.rejectLocked(ns, pb.JoinAck_E_UNAVAILABLE, "resource limit reached", limits.Memory)
		return 0, 0, true
	}
	return maxPeers, mem, false
}

// rejectLocked queues a refusing ack; limit, when not empty, names the
// setting that refused it (counted, and named in the text).
func (sess *session) rejectLocked(ns string, st pb.JoinAck_Status, text, limit string) {
	s := sess.s
	if limit != "" {
		s.cfg.limits.Refused(limit)
		text = limits.Text(text, limit)
	}
	s.mt.JoinAnswered(st)
	s.log.Debug("join rejected", "peer", sess.peer, "ns", ns, "status", st.String(), "reason", text)
	sess.queue(ackFrame(&pb.JoinAck{Ns: ns, Status: st, StatusText: text}))
}

// leave ends one view at the client's request.
func (sess *session) leave(ns string) {
	s := sess.s
	s.mu.Lock()
	sv := sess.views[ns]
	if s.closed || sv == nil {
		s.mu.Unlock()
		return
	}
	write := s.endViewLocked(sess, sv)
	if write {
		sess.ps.writes++
	}
	s.mu.Unlock()
	if write {
		_ = s.syncMembership(sess.ps, sess.peer, ns, registry.ReasonUnregistered, false)
	}
}

func statusOf(err error) (pb.JoinAck_Status, string) {
	switch {
	case errors.Is(err, registry.ErrInvalidNamespace):
		return pb.JoinAck_E_INVALID_NAMESPACE, fmt.Sprintf("namespace must be 1 to %d bytes of UTF-8", registry.MaxNamespaceLen)
	case errors.Is(err, registry.ErrTooManyForPeer):
		return pb.JoinAck_E_NOT_AUTHORIZED, "too many namespaces for this peer"
	case errors.Is(err, registry.ErrFull), errors.Is(err, registry.ErrTooManyNamespaces):
		return pb.JoinAck_E_UNAVAILABLE, "registry full"
	case errors.Is(err, registry.ErrNamespaceNotAllowed):
		return pb.JoinAck_E_NOT_AUTHORIZED, "namespace not allowed on this node"
	case errors.Is(err, registry.ErrNamespaceFull):
		return pb.JoinAck_E_UNAVAILABLE, "namespace full"
	case errors.Is(err, registry.ErrClosed):
		return pb.JoinAck_E_UNAVAILABLE, "shutting down"
	}
	return pb.JoinAck_E_INTERNAL_ERROR, "cannot register"
}

// endViewLocked ends one view of a session and frees it. It reports whether
// this was the peer's last announcing view of the namespace: the caller
// then has its membership written once s.mu is released (syncMembership,
// counted in ps.writes before the release, or syncLater).
func (s *Service) endViewLocked(sess *session, sv *sessionView) (write bool) {
	ns := sv.v.ns.name
	if s.t.close(sv.v) {
		s.kickFeeder()
	}
	delete(sess.views, ns)
	sess.str.Scope().ReleaseMemory(sv.mem)
	s.mt.ViewsOpen(s.t.count)
	if !sv.announce {
		return false
	}
	sess.ps.announces[ns]--
	if sess.ps.announces[ns] > 0 {
		return false
	}
	delete(sess.ps.announces, ns)
	return true
}

// endSession runs once when the reader stops.
func (s *Service) endSession(sess *session, reason registry.LeftReason, reset bool) {
	s.mu.Lock()
	var leave []string
	for ns, sv := range sess.views {
		if s.endViewLocked(sess, sv) {
			leave = append(leave, ns)
			sess.ps.writes++
		}
	}
	delete(s.sessions, sess)
	delete(s.dirty, sess)
	s.mt.StreamsOpen(len(s.sessions))
	if s.allEnded != nil && len(s.sessions) == 0 {
		close(s.allEnded)
		s.allEnded = nil
	}
	sess.ps.streams--
	if sess.ps.streams == 0 {
		s.h.ConnManager().Unprotect(sess.peer, protectTag)
	}
	s.forgetPeerLocked(sess.peer, sess.ps)
	sess.closing = true
	sess.reset = sess.reset || reset
	sess.wakeWriter()
	s.mu.Unlock()
	for _, ns := range leave {
		_ = s.syncMembership(sess.ps, sess.peer, ns, reason, false)
	}
	<-sess.writerDone
}

// writeLoop is the stream's only writer while it runs: control messages in
// order, then, when the flush timer says so, the views' coalesced changes. It
// returns when nothing is left to write, and ends the stream when closing.
func (sess *session) writeLoop() {
	s := sess.s
	var buf []byte
	for {
		s.mu.Lock()
		frames := sess.ctrl
		sess.ctrl, sess.ctrlBytes = nil, 0
		select {
		case sess.drained <- struct{}{}:
		default:
		}
		if sess.flushDue {
			sess.flushDue = false
			now := time.Now()
			sess.lastFlush = now
			for _, sv := range sess.views {
				since := sv.v.since
				fr, counts := s.t.flush(sv.v)
				frames = append(frames, fr...)
				if n := counts[1] + counts[2] + counts[3]; n > 0 {
					s.mt.BatchFlushed(n, now.Sub(since))
					for k := pb.PeerEvent_JOINED; k <= pb.PeerEvent_LEFT; k++ {
						s.mt.EventsSent(k, counts[k])
					}
				}
			}
		}
		closing, reset, goodbye := sess.closing, sess.reset, sess.goodbye
		if len(frames) == 0 && !closing {
			sess.writing = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()

		if len(frames) > 0 && !reset {
			// One write per round: frames are small and many.
			b := frames[0]
			if len(frames) > 1 {
				buf = buf[:0]
				for _, f := range frames {
					buf = append(buf, f...)
				}
				b = buf
			}
			_ = sess.str.SetWriteDeadline(time.Now().Add(s.cfg.lim.WriteTimeout.D()))
			if _, err := sess.str.Write(b); err != nil {
				s.log.Debug("write failed", "peer", sess.peer, "err", err)
				_ = sess.str.Reset()
				sess.end(true)
				return
			}
			if cap(buf) > 1<<10 {
				buf = nil // a snapshot's buffer is not kept for later rounds
			}
		}
		if closing {
			switch {
			case reset:
				_ = sess.str.Reset()
			case goodbye:
				_ = sess.str.CloseWrite()
			default:
				_ = sess.str.Close()
			}
			sess.end(reset)
			return
		}
	}
}

// end records that the writer has ended the stream and releases whoever waits
// for it (the reader, endSession, Close).
func (sess *session) end(reset bool) {
	s := sess.s
	s.mu.Lock()
	sess.reset = sess.reset || reset
	sess.writing = false
	sess.ended = true
	s.mu.Unlock()
	close(sess.writerDone)
}
