// Package legacy serves the old ws-star clients (libp2p-websocket-star 0.10,
// the transport of js-libp2p <= 0.25 apps and old js-ipfs builds) on the
// node's port: socket.io protocol 2 over engine.io 3 WebSockets at
// /socket.io/, with the events of libp2p-websocket-star-rendezvous (ss-join
// with its crypto challenge, ss-leave, ss-dial, ws-peer, ss-incomming) and the
// socket.io-pull-stream events that carry relayed dials. Joined peers are
// members of one registry namespace; relayed dials are bounded by Limits.
package legacy

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/registry"
)

// Path is where the old clients connect.
const Path = "/socket.io/"

// member is one joined address.
type member struct {
	sock *socket
	peer peer.ID
	addr ma.Multiaddr
	key  string
	// wire is the address as the client sent it, as the old server
	// repeated it to others.
	wire string
}

// Service serves the old clients. Its ServeHTTP takes WebSocket upgrade
// requests at Path.
type Service struct {
	cfg      config
	reg      registry.Registry
	log      *slog.Logger
	m        MetricsTracer
	prom     *promTracer
	upgrader websocket.Upgrader

	// mu covers the maps and counters below; never held across a registry
	// write or a network write.
	mu      sync.Mutex
	closed  bool
	sockets map[*socket]struct{}
	perIP   map[netip.Addr]int
	addrs   map[string]*member
	peers   map[peer.ID]map[string]*member
	held    map[peer.ID]bool
	dials   map[*dial]struct{}

	// wmu covers writers: one write lock per peer with registry writes in
	// flight, so that a peer's writes are ordered.
	wmu     sync.Mutex
	writers map[peer.ID]*peerWriter

	wg        sync.WaitGroup
	done      chan struct{}
	closeOnce sync.Once
}

type peerWriter struct {
	mu   sync.Mutex
	refs int
}

// New creates the service; reg is the node's registry.
func New(reg registry.Registry, opts ...Option) (*Service, error) {
	c := defaults()
	for _, o := range opts {
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	if reg == nil {
		return nil, errors.New("legacy: nil registry")
	}
	if err := c.policy.Check(c.namespace); err != nil {
		return nil, fmt.Errorf("legacy: namespace %q: %w", c.namespace, err)
	}
	s := &Service{
		cfg:     c,
		reg:     reg,
		log:     c.logger.With("protocol", "ws-star-legacy"),
		m:       nopTracer{},
		sockets: make(map[*socket]struct{}),
		perIP:   make(map[netip.Addr]int),
		addrs:   make(map[string]*member),
		peers:   make(map[peer.ID]map[string]*member),
		held:    make(map[peer.ID]bool),
		dials:   make(map[*dial]struct{}),
		writers: make(map[peer.ID]*peerWriter),
		done:    make(chan struct{}),
	}
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: c.lim.WriteTimeout.D(),
		ReadBufferSize:   4096,
		WriteBufferSize:  4096,
		// The old clients run in pages of any origin, as with the old
		// server.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	if c.registerer != nil {
		p, err := newPromTracer(c.registerer)
		if err != nil {
			return nil, err
		}
		s.prom, s.m = p, p
	}
	s.wg.Add(2)
	go s.sweepDials()
	go s.denyLoop()
	return s, nil
}

// Namespace is the registry namespace of the old clients' peers.
func (s *Service) Namespace() string { return s.cfg.namespace }

// Stats are the service's figures now.
type Stats struct {
	Sockets, Members, Dials int
}

// Stats returns the service's figures now.
func (s *Service) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Sockets: len(s.sockets), Members: len(s.addrs), Dials: len(s.dials)}
}

// refuse counts a refusal and logs it at Debug.
func (s *Service) refuse(r Refusal, attrs ...any) {
	s.m.Refused(r)
	s.log.Debug("refused", append([]any{"reason", string(r)}, attrs...)...)
}

// ServeHTTP serves an old client's WebSocket at Path. The engine.io
// long-polling transport is not served: the old clients use WebSockets
// only.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("EIO") != "3" {
		writeEIOError(w, 5, "Unsupported protocol version")
		return
	}
	if q.Get("transport") != "websocket" || !websocket.IsWebSocketUpgrade(r) {
		writeEIOError(w, 0, "Transport unknown")
		return
	}
	ip := remoteIP(r.RemoteAddr)
	if ip.IsValid() && s.cfg.deny.DeniedIP(ip) {
		s.refuse(RefusedDenied, "ip", ip)
		http.Error(w, "address denied", http.StatusForbidden)
		return
	}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	case len(s.sockets) >= s.cfg.lim.MaxSockets:
		s.mu.Unlock()
		s.refuse(RefusedSockets, "ip", ip)
		http.Error(w, "legacy.max_sockets reached", http.StatusServiceUnavailable)
		return
	case s.perIP[ip] >= s.cfg.lim.MaxSocketsPerIP:
		s.mu.Unlock()
		s.refuse(RefusedSocketsPerIP, "ip", ip)
		http.Error(w, "legacy.max_sockets_per_ip reached", http.StatusTooManyRequests)
		return
	}
	sk := newSocket(s, ip)
	s.sockets[sk] = struct{}{}
	s.perIP[ip]++
	n := len(s.sockets)
	s.mu.Unlock()
	s.m.Sockets(n)

	c, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.forget(sk)
		return
	}
	sk.conn.Store(c)
	s.wg.Add(2)
	go sk.writeLoop()
	go sk.readLoop()
}

// writeEIOError answers a request engine.io refuses, as engine.io does.
func writeEIOError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, `{"code":%d,"message":%q}`, code, msg)
}

func remoteIP(addr string) netip.Addr {
	ap, err := netip.ParseAddrPort(addr)
	if err == nil {
		return ap.Addr().Unmap()
	}
	host, _, err := net.SplitHostPort(addr)
	if err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}

// forget drops a socket that ended: its addresses leave, its dials end.
func (s *Service) forget(sk *socket) {
	s.mu.Lock()
	if _, ok := s.sockets[sk]; !ok {
		s.mu.Unlock()
		return
	}
	delete(s.sockets, sk)
	if s.perIP[sk.ip]--; s.perIP[sk.ip] <= 0 {
		delete(s.perIP, sk.ip)
	}
	var left []peer.ID
	for key, mb := range sk.addrs {
		if s.addrs[key] == mb {
			delete(s.addrs, key)
			s.dropPeerAddrLocked(mb)
			left = append(left, mb.peer)
		}
	}
	clear(sk.addrs)
	var ended []*dial
	for _, d := range sk.dials {
		if _, ok := s.dials[d]; ok {
			ended = append(ended, d)
		}
	}
	for _, d := range ended {
		s.endDialLocked(d, sk, endGone)
	}
	n, members, dials := len(s.sockets), len(s.addrs), len(s.dials)
	s.mu.Unlock()
	s.m.Sockets(n)
	s.m.Members(members)
	s.m.DialsOpen(dials)
	for _, p := range uniq(left) {
		_ = s.syncPeer(p, registry.ReasonDisconnected)
	}
}

func uniq(ps []peer.ID) []peer.ID {
	seen := make(map[peer.ID]bool, len(ps))
	out := ps[:0]
	for _, p := range ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

func (s *Service) dropPeerAddrLocked(mb *member) {
	if pm := s.peers[mb.peer]; pm != nil {
		delete(pm, mb.key)
		if len(pm) == 0 {
			delete(s.peers, mb.peer)
		}
	}
}

// syncPeer writes p's membership as it is wanted now: a live hold with the
// addresses p has joined on this node, or none. Writes of one peer are
// ordered by its write lock; s.mu is held only to decide and to record.
func (s *Service) syncPeer(p peer.ID, reason registry.LeftReason) error {
	w := s.lockWriter(p)
	defer s.unlockWriter(p, w)
	s.mu.Lock()
	var addrs []ma.Multiaddr
	for _, mb := range s.peers[p] {
		addrs = append(addrs, mb.addr)
	}
	held := s.held[p]
	s.mu.Unlock()
	if len(addrs) == 0 {
		if held {
			s.reg.Unregister(s.cfg.namespace, p, registry.SourceLive, reason)
			s.mu.Lock()
			delete(s.held, p)
			s.mu.Unlock()
		}
		return nil
	}
	_, err := s.reg.Register(registry.Registration{
		Namespace: s.cfg.namespace, Peer: p, Addrs: addrs, Source: registry.SourceLive,
	})
	if err != nil {
		if l := registry.LimitOf(err); l != "" {
			s.cfg.limits.Refused(l)
		}
		return err
	}
	s.mu.Lock()
	s.held[p] = true
	s.mu.Unlock()
	return nil
}

func (s *Service) lockWriter(p peer.ID) *peerWriter {
	s.wmu.Lock()
	w := s.writers[p]
	if w == nil {
		w = &peerWriter{}
		s.writers[p] = w
	}
	w.refs++
	s.wmu.Unlock()
	w.mu.Lock()
	return w
}

func (s *Service) unlockWriter(p peer.ID, w *peerWriter) {
	w.mu.Unlock()
	s.wmu.Lock()
	if w.refs--; w.refs == 0 {
		delete(s.writers, p)
	}
	s.wmu.Unlock()
}

// Close closes every socket, ends every membership and removes the
// metrics. It is idempotent.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		socks := make([]*socket, 0, len(s.sockets))
		for sk := range s.sockets {
			socks = append(socks, sk)
		}
		s.mu.Unlock()
		close(s.done)
		for _, sk := range socks {
			sk.shutdown()
		}
		s.wg.Wait()
		for _, sk := range socks {
			s.forget(sk)
		}
		if s.prom != nil {
			s.prom.set.Unregister()
		}
	})
	return nil
}

// newNonce is the challenge a joiner signs.
func newNonce() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newSocketID is an engine.io session id.
func newSocketID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return strings.TrimRight(hex.EncodeToString(b[:]), "=")
}

// Disconnect closes every socket that joined an address of p and returns how
// many (the admin API's disconnect).
func (s *Service) Disconnect(p peer.ID) int {
	return s.closeSockets(func(sk *socket) bool {
		for _, mb := range sk.addrs {
			if mb.peer == p {
				return true
			}
		}
		return false
	})
}

// CloseDenied closes every socket the deny list now refuses: from a denied
// address, or having joined a denied peer's address. It returns how many.
func (s *Service) CloseDenied() int {
	return s.closeSockets(func(sk *socket) bool {
		if sk.ip.IsValid() && s.cfg.deny.DeniedIP(sk.ip) {
			return true
		}
		for _, mb := range sk.addrs {
			if s.cfg.deny.Denied(mb.peer) {
				return true
			}
		}
		return false
	})
}

func (s *Service) closeSockets(match func(*socket) bool) int {
	s.mu.Lock()
	var hit []*socket
	for sk := range s.sockets {
		if match(sk) {
			hit = append(hit, sk)
		}
	}
	s.mu.Unlock()
	for _, sk := range hit {
		sk.shutdown()
	}
	return len(hit)
}

// denySweepEvery bounds how long a socket a new ban covers stays open when
// nobody calls CloseDenied (the deny file changed, say).
const denySweepEvery = time.Second

// denyLoop closes the sockets a changed deny list refuses.
func (s *Service) denyLoop() {
	defer s.wg.Done()
	t := time.NewTicker(denySweepEvery)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			if n := s.CloseDenied(); n > 0 {
				s.log.Info("legacy: closed denied sockets", "sockets", n)
			}
		}
	}
}

// sweepDials ends dials idle for longer than dial_idle_timeout.
func (s *Service) sweepDials() {
	defer s.wg.Done()
	idle := s.cfg.lim.DialIdleTimeout.D()
	every := min(max(idle/4, 100*time.Millisecond), 10*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			s.mu.Lock()
			var idleDials []*dial
			for d := range s.dials {
				if now.Sub(d.last) >= idle {
					idleDials = append(idleDials, d)
				}
			}
			for _, d := range idleDials {
				s.endDialLocked(d, nil, endIdle)
			}
			n := len(s.dials)
			s.mu.Unlock()
			for range idleDials {
				s.refuse(RefusedDialIdle)
			}
			if len(idleDials) > 0 {
				s.m.DialsOpen(n)
			}
		}
	}
}
