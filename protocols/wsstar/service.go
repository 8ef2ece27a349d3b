// Package wsstar implements /ws-star/1.0.0, the live discovery protocol: a
// peer joins a namespace over a long-lived stream and is told who joins and
// who leaves, within a flush interval, through a bounded view of the
// namespace. Membership lives in the shared registry, so peers registered
// through /rendezvous/1.0.0 are members too. See docs/protocol.md.
package wsstar

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ws-star/rendezvous/internal/limits"
	"github.com/ws-star/rendezvous/internal/promreg"
	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
	"github.com/ws-star/rendezvous/registry"
)

// ProtoID is the protocol id of the live protocol.
const ProtoID = "/ws-star/1.0.0"

// ServiceName is the resource manager service scope of the protocol's streams.
const ServiceName = "rendezvous.ws-star"

// protectTag keeps the connection manager from trimming peers with a live
// stream: their membership would end with it.
const protectTag = "ws-star"

// viewEntryBytes is what one shown member costs a view, roughly (map entries
// on both sides of the view-member index); reserved on the stream scope.
const viewEntryBytes = 128

// shutdownGrace bounds how long Close waits for Closed{SHUTDOWN} to be written.
const shutdownGrace = 2 * time.Second

// Service serves /ws-star/1.0.0 on a host.
type Service struct {
	h   host.Host
	reg registry.Registry
	cfg config
	log *slog.Logger
	mt  MetricsTracer
	// metrics is nil without a registerer; Close unregisters it.
	metrics *promreg.Set

	// mu covers map and counter updates only: no registry call and no
	// stream I/O happens under it (see docs/architecture.md).
	mu       sync.Mutex
	t        *viewTable
	sessions map[*session]struct{}
	peers    map[peer.ID]*peerState
	records  map[peer.ID]identifyRecord
	// opening counts accepted joins whose view the feeder has not opened
	// yet: they count against max_views.
	opening int
	// recordQueries counts identify requests in flight (recordquery.go).
	recordQueries int
	dirty         map[*session]struct{}
	armed         bool
	timer         *time.Timer
	closed        bool
	allEnded      chan struct{} // closed when the last session ends after Close

	// events: registry changes of the namespaces with views, the latest per
	// member, waiting for the feeder (feed.go); opens: joins waiting for it;
	// emptied: a namespace lost its last view.
	events  *coalescer[eventKey, queuedEvent]
	opens   chan *openRequest
	emptied chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	sub    event.Subscription
	// pendingRecords: identify records on their way from the bus to the
	// service, the newest per peer (records.go).
	pendingRecords *coalescer[peer.ID, event.EvtPeerIdentificationCompleted]
	notifiee       *network.NotifyBundle
	closeOnce      sync.Once
}

// Stats are the service's counts, for status pages.
type Stats struct {
	Views      int
	Namespaces int
	Streams    int
}

// New starts the service on h, reading and writing membership in reg.
func New(h host.Host, reg registry.Registry, opts ...Option) (*Service, error) {
	cfg := defaults()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	var mt MetricsTracer = nopTracer{}
	var metricsSet *promreg.Set
	if cfg.registerer != nil {
		pt, err := newPromTracer(cfg.registerer)
		if err != nil {
			return nil, err
		}
		mt, metricsSet = pt, pt.set
	}
	sub, err := h.EventBus().Subscribe(new(event.EvtPeerIdentificationCompleted))
	if err != nil {
		metricsSet.Unregister()
		return nil, err
	}
	s := &Service{
		h:        h,
		reg:      reg,
		cfg:      cfg,
		log:      cfg.logger.With("protocol", ProtoID),
		mt:       mt,
		metrics:  metricsSet,
		sessions: make(map[*session]struct{}),
		peers:    make(map[peer.ID]*peerState),
		records:  make(map[peer.ID]identifyRecord),
		dirty:    make(map[*session]struct{}),
		sub:      sub,
		events:   newCoalescer[eventKey, queuedEvent](0, mt.RegistryEventsPending),
		opens:    make(chan *openRequest),
		emptied:  make(chan struct{}, 1),

		pendingRecords: newCoalescer[peer.ID, event.EvtPeerIdentificationCompleted](cfg.maxPendingRecords, nil),
	}
	s.t = newViewTable(cfg.lim.MaxPendingEvents, s)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.notifiee = &network.NotifyBundle{DisconnectedF: s.disconnected}
	h.Network().Notify(s.notifiee)

	s.wg.Add(3)
	go s.feedLoop()
	go s.identifyLoop()
	go s.recordLoop()
	h.SetStreamHandler(ProtoID, s.handleStream)
	return s, nil
}

// Stats returns the current counts.
func (s *Service) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Views: s.t.count, Namespaces: len(s.t.nss), Streams: len(s.sessions)}
}

// viewDirty runs under s.mu when a view gets its first change since a flush.
// A stream that has not been flushed for an interval gets the change at once
// (the leading edge: an idle node shows a join in milliseconds); changes in
// the interval after a flush wait for the one timer per service, armed only
// while something is pending, so an idle node does no periodic work and a
// stream gets at most two flushes per interval.
func (s *Service) viewDirty(v *view) {
	sess := v.owner
	if time.Since(sess.lastFlush) >= s.cfg.lim.FlushInterval.D() {
		sess.flushDue = true
		sess.wakeWriter()
		return
	}
	s.dirty[sess] = struct{}{}
	if !s.armed {
		s.armed = true
		if s.timer == nil {
			s.timer = time.AfterFunc(s.cfg.lim.FlushInterval.D(), s.flushDue)
		} else {
			s.timer.Reset(s.cfg.lim.FlushInterval.D())
		}
	}
}

// flushDue hands every dirty stream to its writer.
func (s *Service) flushDue() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = false
	for sess := range s.dirty {
		sess.flushDue = true
		sess.wakeWriter()
	}
	clear(s.dirty)
}

// viewOverflowed runs under s.mu after the table ended v; it runs on the
// feeder, which must not wait for the registry.
func (s *Service) viewOverflowed(v *view) {
	sess := v.owner
	sv := sess.views[v.ns.name]
	if sv == nil || sv.v != v {
		return
	}
	s.log.Debug("view overflowed", "peer", sess.peer, "ns", v.ns.name, "max_pending", s.cfg.lim.MaxPendingEvents)
	s.mt.ViewClosed(pb.Closed_OVERFLOW)
	s.cfg.limits.Refused(limits.PendingEvents)
	if s.endViewLocked(sess, sv) {
		s.syncLater(sess.ps, sess.peer, v.ns.name, registry.ReasonDisconnected, false)
	}
	sess.queue(closedFrame(v.ns.name, pb.Closed_OVERFLOW, limits.Text("too many pending changes", limits.PendingEvents)))
}

// Close stops serving: every joined namespace gets Closed{SHUTDOWN}, then the
// streams are closed, waiting at most a short grace for the writes, and Close
// returns once no stream handler runs. It is idempotent.
func (s *Service) Close() error {
	s.closeOnce.Do(s.close)
	return nil
}

func (s *Service) close() {
	s.h.RemoveStreamHandler(ProtoID)
	s.mu.Lock()
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
	}
	sessions := make([]*session, 0, len(s.sessions))
	for sess := range s.sessions {
		sessions = append(sessions, sess)
		for ns, sv := range sess.views {
			sess.queue(closedFrame(ns, pb.Closed_SHUTDOWN, "node shutting down"))
			s.mt.ViewClosed(pb.Closed_SHUTDOWN)
			if s.endViewLocked(sess, sv) {
				s.syncLater(sess.ps, sess.peer, ns, registry.ReasonDisconnected, false)
			}
		}
		sess.closing = true
		sess.goodbye = true
		sess.wakeWriter()
	}
	var ended <-chan struct{}
	if len(s.sessions) > 0 {
		s.allEnded = make(chan struct{})
		ended = s.allEnded
	}
	s.mu.Unlock()

	// The writers queue Closed{SHUTDOWN} and close their side of the stream;
	// the muxer sends it later. A peer that has read it ends its side, which
	// ends the session. Until then a reset, or the host closing the
	// connection, could discard the goodbye unsent or unread, so the streams
	// are reset only when every peer has answered or the grace has run out.
	grace := time.NewTimer(min(shutdownGrace, s.cfg.lim.WriteTimeout.D()))
	if ended != nil {
		select {
		case <-ended:
		case <-grace.C:
		}
	}
	grace.Stop()
	// Resetting the streams ends the remaining handlers and releases every
	// stream's resources; cancelling s.ctx ends the rest (refusals, record
	// queries); the wait below includes them all.
	for _, sess := range sessions {
		_ = sess.str.Reset()
	}
	s.cancel()
	_ = s.sub.Close()
	s.h.Network().StopNotify(s.notifiee)
	s.wg.Wait()
	s.metrics.Unregister()
}
