package wsstar

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
	"github.com/ws-star/rendezvous/registry"
)

// The feeder is the one goroutine that moves registry state into the view
// table: it opens views, applies membership changes and refills views, each
// time reading the registry without s.mu and applying what it read under
// it. Being the only writer of the views' contents is what makes reading
// outside the lock safe: a member drawn for a view and gone before the view
// takes it has its Left queued after the draw, and the feeder applies that
// Left after the draw's result. Registry writes never happen here: they
// belong to the streams (membership.go), so a slow one holds up nothing but
// its own stream.

type queuedEvent struct {
	ns string
	ev registry.Event
	at time.Time // when it was queued; a newer event for the member replaces it
}

type eventKey struct {
	ns string
	p  peer.ID
}

// openRequest asks the feeder for a view of ns on sess.
type openRequest struct {
	sess     *session
	ns       string
	max      int
	announce bool
	mem      int // bytes reserved on the stream scope, the view's to release
	done     chan struct{}
}

// applySlice is how many registry events are applied per hold of s.mu.
const applySlice = 256

// enqueue is the registry subscription callback: it must not block nor call
// into the registry, so it only queues.
//
// Keeping only the latest event per member is exact because the feeder
// decides from the registry's current state: a member that joined and left
// is applied as absent (its Joined would find it gone), one that left and
// came back as present (its Left would find it present), and a Left carries
// the reason of the last leave, which is the one views report.
func (s *Service) enqueue(ns string, ev registry.Event) {
	s.events.put(eventKey{ns, ev.Reg.Peer}, queuedEvent{ns: ns, ev: ev, at: time.Now()})
}

func (s *Service) feedLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case req := <-s.opens:
			s.open(req)
		case <-s.events.notify:
			s.applyQueued()
		case <-s.emptied:
		}
		s.reapNamespaces()
	}
}

// applyQueued applies the queued events in slices, serving the joins that
// wait between two slices: a burst of changes does not hold them off.
func (s *Service) applyQueued() {
	for {
		q := s.events.take(applySlice)
		s.apply(q)
		for served := false; !served; {
			select {
			case req := <-s.opens:
				s.open(req)
			default:
				served = true
			}
		}
		// A shorter slice emptied the queue; whatever came since has
		// signalled notify.
		if len(q) < applySlice {
			return
		}
	}
}

// apply reads the current registration of each event's member, applies
// them under s.mu, then refills the views members left.
func (s *Service) apply(q []queuedEvent) {
	if len(q) == 0 {
		return
	}
	states := readStates(s.reg, q)
	s.mu.Lock()
	refills := s.t.applyStates(q, states)
	s.settleLocked()
	s.mu.Unlock()
	for _, v := range refills {
		s.refill(v)
	}
}

// memberState is a member's registration as the registry holds it now.
type memberState struct {
	cur     registry.Registration
	present bool
}

// readStates reads the current registration of each event's member.
func readStates(reg registry.Registry, q []queuedEvent) []memberState {
	states := make([]memberState, len(q))
	for i, e := range q {
		states[i].cur, states[i].present = reg.Get(e.ns, e.ev.Reg.Peer)
	}
	return states
}

// refill draws candidates for a view that lost members and tops it up.
func (s *Service) refill(v *view) {
	s.mu.Lock()
	dead, need := v.dead, v.max-len(v.shown)
	s.mu.Unlock()
	if dead || need <= 0 {
		return
	}
	cands := s.reg.Random(v.ns.name, fillDraw(need), skipFor(v))
	s.mu.Lock()
	s.t.refill(v, cands)
	s.settleLocked()
	s.mu.Unlock()
}

// open answers an openRequest: it subscribes to the namespace if no view
// of it is open, draws the snapshot, then opens the view and queues the ack
// and the snapshot under s.mu.
func (s *Service) open(req *openRequest) {
	defer close(req.done)
	sess := req.sess
	s.mu.Lock()
	n := s.t.namespace(req.ns)
	s.mu.Unlock()
	if n == nil {
		// Subscribing before the snapshot is drawn: events already
		// reflected in it are applied again later, which changes nothing.
		unsubscribe := s.reg.Subscribe(req.ns, func(ev registry.Event) { s.enqueue(req.ns, ev) })
		s.mu.Lock()
		n = s.t.addNamespace(req.ns, unsubscribe)
		s.mu.Unlock()
	}
	cands := s.reg.Random(req.ns, fillDraw(req.max), func(p peer.ID) bool { return p == sess.peer })
	members := s.reg.Members(req.ns)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		sess.abandonJoinLocked(req.ns, req.announce, req.mem)
		return
	}
	s.opening--
	v := s.t.open(n, sess.peer, req.max, sess, cands)
	sess.views[req.ns] = &sessionView{v: v, announce: req.announce, mem: req.mem}
	s.mt.ViewsOpen(s.t.count)
	s.mt.JoinAnswered(pb.JoinAck_OK)
	s.mt.EventsSent(pb.PeerEvent_JOINED, len(v.shown))
	s.log.Debug("joined", "peer", sess.peer, "ns", req.ns, "announce", req.announce, "max_peers", req.max, "shown", len(v.shown))
	sess.queue(ackFrame(&pb.JoinAck{Ns: req.ns, Status: pb.JoinAck_OK, MaxPeers: uint32(req.max), Members: uint64(members)}))
	sess.queue(s.t.snapshotFrame(v))
	s.settleLocked()
}

// settleLocked hands the views that changed to their writers and ends the
// ones that overflowed; it runs under s.mu after the table applied changes.
func (s *Service) settleLocked() {
	for _, v := range s.t.takeDirty() {
		if !v.dead {
			s.viewDirty(v)
		}
	}
	for _, v := range s.t.takeOverflowed() {
		s.viewOverflowed(v)
	}
}

// reapNamespaces ends the subscriptions of namespaces left without views.
func (s *Service) reapNamespaces() {
	s.mu.Lock()
	gone := s.t.reap()
	s.mu.Unlock()
	for _, n := range gone {
		n.unsubscribe()
	}
}

// kickFeeder has the feeder reap namespaces left without views.
func (s *Service) kickFeeder() {
	select {
	case s.emptied <- struct{}{}:
	default:
	}
}
