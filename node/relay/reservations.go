package relay

import (
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// relayReservationTag is the connection manager tag go-libp2p's relay sets,
// holding its lock, right after it stored a granted reservation (past the
// ACL and its per-IP, per-ASN and total limits), and removes, holding the
// same lock, when its GC drops the reservation (expired, or the relay
// closed). The tag is the only place the relay names the peer together with
// its decision; the tests fail if go-libp2p renames it.
const relayReservationTag = "relay-reservation"

// relayHost is the host as the relay sees it: the same host, but with a
// connection manager that reports the relay's reservation tags, and the
// circuit gate in front of the hop protocol (see circuitGate).
type relayHost struct {
	host.Host
	cm   reservationTags
	gate *circuitGate
}

func (h relayHost) ConnManager() connmgr.ConnManager { return h.cm }

// reservationTags passes every call to the host's connection manager and
// tells the reservation set about the relay's grants and removals.
type reservationTags struct {
	connmgr.ConnManager
	rs *Reservations
}

func (c reservationTags) TagPeer(p peer.ID, tag string, v int) {
	c.ConnManager.TagPeer(p, tag, v)
	if tag == relayReservationTag {
		c.rs.granted(p)
	}
}

func (c reservationTags) UntagPeer(p peer.ID, tag string) {
	c.ConnManager.UntagPeer(p, tag)
	if tag == relayReservationTag {
		c.rs.end(p)
	}
}

// Reservations tracks the connected peers holding a relay reservation and
// protects them in the connection manager: trimming one would silently make
// it unreachable. A reservation ends when it expires unrenewed, when the
// relay drops it, or with the peer's last connection.
type Reservations struct {
	mu    sync.Mutex
	cm    connmgr.ConnManager // nil until bound: nothing is granted before
	net   network.Network
	ttl   time.Duration
	peers map[peer.ID]*time.Timer // each grant's expiry
}

func NewReservations() *Reservations {
	return &Reservations{peers: make(map[peer.ID]*time.Timer)}
}

// bind attaches the set to the relay's host before the relay starts; ttl is
// the relay's ReservationTTL.
func (s *Reservations) bind(h host.Host, ttl time.Duration) {
	s.mu.Lock()
	s.cm, s.net, s.ttl = h.ConnManager(), h.Network(), ttl
	s.mu.Unlock()
}

// granted records a grant or renewal. The relay computed its expiry as its
// clock plus ttl just before tagging, so a timer started here fires no
// earlier than the reservation's expiry. Its GC removes the reservation up to
// a minute later; until then it only serves circuits a client no longer
// expects, as the client did not renew.
func (s *Reservations) granted(p peer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// The disconnect notification comes after the swarm dropped the
	// connection; a grant that lost that race must not outlive it.
	if s.net.Connectedness(p) != network.Connected {
		s.endLocked(p)
		return
	}
	if t := s.peers[p]; t != nil {
		t.Stop()
	}
	var t *time.Timer
	t = time.AfterFunc(s.ttl, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.peers[p] == t { // not renewed since
			s.endLocked(p)
		}
	})
	s.peers[p] = t
	s.cm.Protect(p, ProtectTag)
}

func (s *Reservations) end(p peer.ID) {
	s.mu.Lock()
	s.endLocked(p)
	s.mu.Unlock()
}

func (s *Reservations) endLocked(p peer.ID) {
	t, ok := s.peers[p]
	if !ok {
		return
	}
	t.Stop()
	delete(s.peers, p)
	s.cm.Unprotect(p, ProtectTag)
}

func (s *Reservations) notifiee() network.Notifiee {
	return &network.NotifyBundle{
		DisconnectedF: func(n network.Network, c network.Conn) {
			if p := c.RemotePeer(); n.Connectedness(p) != network.Connected {
				s.end(p)
			}
		},
	}
}

func (s *Reservations) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.peers)
}

// Has reports whether p holds a relay reservation.
func (s *Reservations) Has(p peer.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.peers[p]
	return ok
}
