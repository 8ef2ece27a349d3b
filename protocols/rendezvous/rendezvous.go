// Package rendezvous serves the libp2p rendezvous protocol (/rendezvous/1.0.0,
// spec r3) on top of the shared namespace registry, and provides a Go client
// for it.
//
// The server is strict in what it sends and lenient in what it accepts, so
// that rust-libp2p, go and @canvas-js clients all work against it:
//
//   - Every reply sets type, status (also OK) and a status text; an OK
//     REGISTER_RESPONSE carries the granted ttl; an OK DISCOVER_RESPONSE
//     carries a cookie, and each registration in it its ns, the signed record
//     as registered and the remaining ttl (at least 1 s).
//   - A REGISTER without type, ttl or with ttl 0 is accepted (the default TTL
//     is granted); a DISCOVER without limit gets the default, one above the
//     maximum is clamped; a missing or empty cookie starts from the beginning.
//   - Cookies are an 8-byte big-endian registry cursor followed by the
//     namespace, the layout rust-libp2p clients parse.
//   - Records are accepted in go/js format (domain libp2p-peer-record) and in
//     rust-libp2p format (domain libp2p-routing-state). A DISCOVER response
//     holds only the requester's format: that of its own registrations, else
//     routing-state for identify agents "rust-libp2p/…", else the standard
//     one; the others are skipped but the cursor moves past them.
//
// Status choices where the spec has no exact code: the registry's per-peer
// quota answers E_NOT_AUTHORIZED (waiting will not lift it), node-wide caps
// and rate limits answer E_UNAVAILABLE (a retry later can succeed). An
// undecodable REGISTER is answered E_INVALID_SIGNED_PEER_RECORD and an
// undecodable DISCOVER E_INVALID_NAMESPACE, then the stream is closed; a
// message of unknown or response type, or an over-size frame, resets the
// stream since no reply could be matched or framed safely. UNREGISTER has no
// reply.
package rendezvous

import (
	"log/slog"
	"sync"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/ws-star/rendezvous/internal/promreg"
	"github.com/ws-star/rendezvous/registry"
)

const (
	// ProtoID is the protocol of the libp2p rendezvous spec.
	ProtoID protocol.ID = "/rendezvous/1.0.0"
	// CanvasProtoID is the same protocol under the id @canvas-js clients dial.
	CanvasProtoID protocol.ID = "/canvas/rendezvous/1.0.0"

	// ServiceName is the resource manager service of rendezvous streams.
	ServiceName = "libp2p.rendezvous"

	// protectTag protects peers with an open rendezvous stream from the
	// connection manager's trimming.
	protectTag = "rendezvous"
)

// Service is a rendezvous point: it answers REGISTER, UNREGISTER and DISCOVER
// from the registry it was given.
type Service struct {
	h   host.Host
	reg registry.Registry
	cfg config
	log *slog.Logger
	nb  *network.NotifyBundle

	mt        MetricsTracer
	metricSet *promreg.Set // what Close unregisters; nil without a Registerer

	mu      sync.Mutex
	closed  bool
	peers   map[peer.ID]*peerState
	streams map[network.Stream]struct{}
	// bound holds, per peer, the namespaces it registered with relay-only
	// addresses; timers the pending presence drops of disconnected peers.
	bound  map[peer.ID]map[string]struct{}
	timers map[peer.ID]*presenceTimer
	wg     sync.WaitGroup

	sources     *sources
	unsubscribe func()
}

// New starts serving ProtoID and CanvasProtoID on h from reg. The registry is
// not closed by Close: the node owns it.
func New(h host.Host, reg registry.Registry, opts ...Option) (*Service, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	var mt MetricsTracer = nopTracer{}
	var metricSet *promreg.Set
	if cfg.reg != nil {
		t, err := newPromTracer(cfg.reg)
		if err != nil {
			return nil, err
		}
		mt, metricSet = t, t.set
	}
	s := &Service{
		h:         h,
		reg:       reg,
		cfg:       cfg,
		log:       cfg.log.With("protocol", string(ProtoID)),
		mt:        mt,
		metricSet: metricSet,
		peers:     make(map[peer.ID]*peerState),
		streams:   make(map[network.Stream]struct{}),
		bound:     make(map[peer.ID]map[string]struct{}),
		timers:    make(map[peer.ID]*presenceTimer),
		sources:   newSources(cfg.lim.MaxRegistrationsPerIP, cfg.exempt),
	}
	s.unsubscribe = reg.Subscribe("", s.sources.onEvent)
	s.nb = &network.NotifyBundle{
		ConnectedF:    func(_ network.Network, c network.Conn) { s.connected(c.RemotePeer()) },
		DisconnectedF: func(_ network.Network, c network.Conn) { s.disconnected(c.RemotePeer()) },
	}
	h.Network().Notify(s.nb)
	h.SetStreamHandler(ProtoID, s.handleStream)
	h.SetStreamHandler(CanvasProtoID, s.handleStream)
	return s, nil
}

// Close stops serving: it removes the handlers, resets open streams, stops
// presence timers, waits for running handlers and removes the metrics. It is
// idempotent.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()

	// Outside s.mu: the swarm holds its notifiee lock while it calls into
	// connected/disconnected, which take s.mu.
	s.h.RemoveStreamHandler(ProtoID)
	s.h.RemoveStreamHandler(CanvasProtoID)
	s.h.Network().StopNotify(s.nb)
	s.unsubscribe()

	s.mu.Lock()
	for _, t := range s.timers {
		t.t.Stop()
	}
	clear(s.timers)
	for str := range s.streams {
		_ = str.Reset()
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.mu.Lock()
	clear(s.peers)
	clear(s.bound)
	s.mu.Unlock()
	s.metricSet.Unregister()
	return nil
}
