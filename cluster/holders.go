package cluster

import (
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Holders returns the peer IDs of the live nodes serving p's membership of
// ns (the ones holding it live or node-bound), sorted, for operators; empty
// when only a cluster-wide TTL hold keeps it.
func (r *Registry) Holders(ns string, p peer.ID) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, h := range r.st.members[memberKey{ns: ns, peer: p}] {
		if h.inst == "" || !r.aliveLocked(h.inst) {
			continue
		}
		id := h.inst
		if n := r.nodes[h.inst]; n != nil && n.info.Peer != "" {
			id = n.info.Peer
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}
