package wsstar

import (
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/ws-star/rendezvous/internal/netaddr"
	"github.com/ws-star/rendezvous/registry"
)

// Signed peer records learned by identify, kept per connected peer. go-libp2p
// does not store them in the peerstore; it hands them over in
// EvtPeerIdentificationCompleted.
const (
	maxRecords    = 1 << 16
	maxRecordSize = 4096
	// maxAnnounceAddrs bounds a live member's addresses (circuit ones first).
	maxAnnounceAddrs = 16
	// maxPendingRecords bounds the identify records waiting for the service,
	// one per peer (see identifyLoop).
	maxPendingRecords = 4096
)

type identifyRecord struct {
	env []byte
	seq uint64
	// webrtc: the record lists a WebRTC address signalled through this node.
	webrtc bool
}

// identifyLoop takes identify's events off the host's bus. go-libp2p's
// identify emits there for every peer and waits when a subscriber's buffer is
// full, so this loop never waits for the service: it hands the record to
// recordLoop, keeping the newest per peer, and drops it when too many peers
// are pending.
func (s *Service) identifyLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case e, ok := <-s.sub.Out():
			if !ok {
				return
			}
			ev := e.(event.EvtPeerIdentificationCompleted)
			if ev.SignedPeerRecord == nil {
				continue
			}
			if !s.pendingRecords.put(ev.Peer, ev) {
				s.mt.RecordDropped()
				s.log.Debug("identify record dropped: too many pending", "peer", ev.Peer, "max_pending", s.cfg.maxPendingRecords)
			}
		}
	}
}

// recordSlice is how many pending records recordLoop takes at a time.
const recordSlice = 256

// recordLoop keeps the records identifyLoop hands over.
func (s *Service) recordLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.pendingRecords.notify:
		}
		for {
			// Taken under s.mu: while the service is busy the records wait
			// where a newer one for the same peer replaces them.
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				return
			}
			evs := s.pendingRecords.take(recordSlice)
			s.mu.Unlock()
			for _, ev := range evs {
				s.identified(ev)
			}
			if len(evs) < recordSlice {
				break
			}
		}
	}
}

// identified keeps a peer's record from identify or the record query; every
// record the node serves for a peer comes through here.
func (s *Service) identified(ev event.EvtPeerIdentificationCompleted) {
	pr, ok := peerRecordOf(ev.SignedPeerRecord, ev.Peer)
	if !ok {
		return
	}
	b, err := ev.SignedPeerRecord.Marshal()
	if err != nil || len(b) > maxRecordSize {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.h.Network().Connectedness(ev.Peer) != network.Connected {
		return
	}
	old, had := s.records[ev.Peer]
	if had && old.seq >= pr.Seq {
		return
	}
	if !had && len(s.records) >= maxRecords {
		return
	}
	s.records[ev.Peer] = identifyRecord{env: b, seq: pr.Seq, webrtc: anyWebRTCVia(pr.Addrs, s.h.ID())}
	// A peer that announced before identify finished gets its record and
	// public addresses now; views see UPDATED. The writes run on their own:
	// this loop serves every peer's records.
	if ps := s.peers[ev.Peer]; ps != nil {
		for ns := range ps.announces {
			s.syncLater(ps, ev.Peer, ns, registry.ReasonNone, true)
		}
	}
}

// peerRecordOf returns env's peer record if it is p's own: a record naming p
// and signed by p's key. A valid signature alone proves only that some key
// signed it. go-libp2p's identify and the rendezvous protocol's verifyRecord
// apply the same rule.
func peerRecordOf(env *record.Envelope, p peer.ID) (*peer.PeerRecord, bool) {
	rec, err := env.Record()
	if err != nil {
		return nil, false
	}
	pr, ok := rec.(*peer.PeerRecord)
	if !ok || pr.PeerID != p {
		return nil, false
	}
	signer, err := peer.IDFromPublicKey(env.PublicKey)
	if err != nil || signer != p {
		return nil, false
	}
	return pr, true
}

func (s *Service) disconnected(n network.Network, c network.Conn) {
	p := c.RemotePeer()
	if n.Connectedness(p) == network.Connected {
		return
	}
	s.mu.Lock()
	delete(s.records, p)
	if ps := s.peers[p]; ps != nil {
		s.forgetPeerLocked(p, ps)
	}
	s.mu.Unlock()
}

// announceAddrs are p's circuit addresses through this node, then, when p
// listens for WebRTC signalled through this node, those circuit addresses
// with /webrtc, then p's own public addresses learned by identify. A viewer
// gets the WebRTC ones even when it does not verify records or the record
// was left out of an event for size.
func (s *Service) announceAddrs(p peer.ID) []ma.Multiaddr {
	circuit, err := ma.NewMultiaddr("/p2p/" + s.h.ID().String() + "/p2p-circuit")
	if err != nil {
		return nil
	}
	var out []ma.Multiaddr
	for _, a := range s.h.Addrs() {
		if len(out) == maxAnnounceAddrs {
			return out
		}
		out = append(out, a.Encapsulate(circuit))
	}
	if s.offersWebRTC(p) {
		webrtc := circuit.Encapsulate(ma.StringCast("/webrtc"))
		for _, a := range s.h.Addrs() {
			if len(out) == maxAnnounceAddrs {
				return out
			}
			out = append(out, a.Encapsulate(webrtc))
		}
	}
	for _, a := range s.h.Peerstore().Addrs(p) {
		if len(out) == maxAnnounceAddrs {
			break
		}
		if manet.IsPublicAddr(a) && !containsAddr(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// offersWebRTC reports whether p advertises a WebRTC address signalled
// through this node's relay, in its signed record or its identify addresses.
// It runs under s.mu.
func (s *Service) offersWebRTC(p peer.ID) bool {
	if rec, ok := s.records[p]; ok && rec.webrtc {
		return true
	}
	return anyWebRTCVia(s.h.Peerstore().Addrs(p), s.h.ID())
}

// anyWebRTCVia reports whether an address is .../p2p/<relay>/p2p-circuit/webrtc.
func anyWebRTCVia(addrs []ma.Multiaddr, relay peer.ID) bool {
	for _, a := range addrs {
		for i := 0; i+2 < len(a); i++ {
			if a[i].Code() != ma.P_P2P || a[i+1].Code() != ma.P_CIRCUIT || a[i+2].Code() != ma.P_WEBRTC {
				continue
			}
			if id, err := peer.IDFromBytes(a[i].RawValue()); err == nil && id == relay {
				return true
			}
		}
	}
	return false
}

func containsAddr(list []ma.Multiaddr, a ma.Multiaddr) bool {
	for _, b := range list {
		if b.Equal(a) {
			return true
		}
	}
	return false
}

// memberBody encodes a member's event fields; identify's record stands in
// for a registration without one.
func (s *Service) memberBody(m *member) []byte {
	var fallback []byte
	if rec, ok := s.records[m.id]; ok {
		fallback = rec.env
	}
	return encodeMember(m, fallback, s.cfg.lim.MaxPeers)
}

// encodeMember encodes a member's event fields within the per-event budget
// that keeps a full snapshot of maxPeers under the message cap: over budget,
// the record goes first, then addresses from the end.
func encodeMember(m *member, fallbackRecord []byte, maxPeers int) []byte {
	budget := (MaxServerMessageSize - 1024) / maxPeers
	addrs := make([][]byte, 0, len(m.reg.Addrs))
	for _, a := range m.reg.Addrs {
		// Addresses go without a trailing /p2p/<member>: the event names it.
		addrs = append(addrs, netaddr.WithoutPeer(a, m.id).Bytes())
	}
	env := m.reg.Envelope
	if len(env) == 0 {
		env = fallbackRecord
	}
	b := eventBody([]byte(m.id), addrs, env)
	if len(b)+16 <= budget {
		return b
	}
	for {
		b = eventBody([]byte(m.id), addrs, nil)
		if len(b)+16 <= budget || len(addrs) == 0 {
			return b
		}
		addrs = addrs[:len(addrs)-1]
	}
}

// PeerRecord returns the signed peer record identify gave for a connected
// peer (marshalled envelope), so that other protocols register members with
// the record this service holds.
func (s *Service) PeerRecord(p peer.ID) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.records[p]
	return rec.env, ok
}
