package rendezvous

import (
	"strings"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"

	"github.com/ws-star/rendezvous/registry"
)

// peerState is what the service keeps about a peer while it is connected or
// has a stream open.
type peerState struct {
	streams int
	limiter *rate.Limiter
	// format is the record format of the peer's last registration, the
	// format its DISCOVER results are given in.
	format registry.RecordFormat
}

type streamAdmission int

const (
	admitted streamAdmission = iota
	overPeerLimit
	overPeerTable
	serviceClosed
)

// acquireStream counts a new stream of p and protects p's connections while
// it has one open. Unless the result is admitted, nothing was counted.
func (s *Service) acquireStream(str network.Stream) streamAdmission {
	p := str.Conn().RemotePeer()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return serviceClosed
	}
	st := s.peers[p]
	if st == nil {
		if len(s.peers) >= s.cfg.maxTrackedPeers {
			return overPeerTable
		}
		st = &peerState{limiter: rate.NewLimiter(rate.Limit(s.cfg.lim.RequestRate), s.cfg.lim.RequestBurst)}
		s.peers[p] = st
	}
	if st.streams >= s.cfg.lim.MaxStreamsPerPeer {
		return overPeerLimit
	}
	st.streams++
	s.streams[str] = struct{}{}
	s.wg.Add(1)
	if st.streams == 1 {
		// Under s.mu so that a release racing an acquire cannot leave a
		// peer with an open stream unprotected.
		s.h.ConnManager().Protect(p, protectTag)
	}
	return admitted
}

// releaseStream undoes an admitted acquireStream.
func (s *Service) releaseStream(str network.Stream) {
	p := str.Conn().RemotePeer()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.streams, str)
	if st := s.peers[p]; st != nil {
		st.streams--
		if st.streams == 0 {
			s.h.ConnManager().Unprotect(p, protectTag)
			if !s.isConnected(p) {
				delete(s.peers, p)
			}
		}
	}
	s.wg.Done()
}

// allow takes a token from p's request bucket.
func (s *Service) allow(p peer.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.peers[p]
	return st != nil && st.limiter.Allow()
}

func (s *Service) setFormat(p peer.ID, f registry.RecordFormat) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.peers[p]; st != nil {
		st.format = f
	}
}

// formatFor returns the record format p's DISCOVER results are given in:
// that of its own registrations, else guessed from its identify agent
// version, else the standard peer record. rust-libp2p and canvas clients
// reject a whole response containing one record in the other format.
func (s *Service) formatFor(p peer.ID) registry.RecordFormat {
	s.mu.Lock()
	st := s.peers[p]
	var f registry.RecordFormat
	if st != nil {
		f = st.format
	}
	s.mu.Unlock()
	if f != registry.FormatNone {
		return f
	}
	if av, err := s.h.Peerstore().Get(p, "AgentVersion"); err == nil {
		if v, ok := av.(string); ok && strings.HasPrefix(v, "rust-libp2p/") {
			return registry.FormatRoutingState
		}
	}
	return registry.FormatPeerRecord
}

func (s *Service) isConnected(p peer.ID) bool {
	return len(s.h.Network().ConnsToPeer(p)) > 0
}

func (s *Service) connected(p peer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.timers[p]; t != nil {
		t.t.Stop()
		delete(s.timers, p)
	}
}

// disconnected forgets p's rate bucket and format once its last connection
// is gone, and arms the presence drop of its relay-only registrations.
func (s *Service) disconnected(p peer.ID) {
	if s.isConnected(p) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if st := s.peers[p]; st != nil && st.streams == 0 {
		delete(s.peers, p)
	}
	s.armPresenceLocked(p)
}
