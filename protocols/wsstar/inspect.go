package wsstar

import (
	"cmp"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"
)

// The accessors below serve operators (the node's admin API): they copy
// what they return under the service lock.

// NamespaceViews returns the number of open views of every namespace that
// has one.
func (s *Service) NamespaceViews() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.t.nss))
	for name, n := range s.t.nss {
		if len(n.views) > 0 {
			out[name] = len(n.views)
		}
	}
	return out
}

// Join is one namespace a peer has joined on one of its streams.
type Join struct {
	Namespace string `json:"namespace"`
	// Announce: the peer is a member through this join, not only a watcher.
	Announce bool `json:"announce"`
	// MaxPeers is the size of its view; Shown the members it shows now.
	MaxPeers int `json:"max_peers"`
	Shown    int `json:"shown"`
}

// PeerJoins returns p's joins over all its streams, sorted by namespace. It
// walks every session, which is fine for an operator's query.
func (s *Service) PeerJoins(p peer.ID) []Join {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Join
	for sess := range s.sessions {
		if sess.peer != p {
			continue
		}
		for ns, sv := range sess.views {
			out = append(out, Join{Namespace: ns, Announce: sv.announce, MaxPeers: sv.v.max, Shown: len(sv.v.shown)})
		}
	}
	slices.SortFunc(out, func(a, b Join) int { return cmp.Compare(a.Namespace, b.Namespace) })
	return out
}
