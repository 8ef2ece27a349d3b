package pubsub

import (
	"bytes"
	"slices"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/registry"
)

// membership is what a peer's announcements ask of the registry: a live
// hold on each discovery topic it announced on, with the announced addresses
// and the signed record the node has for it.
type membership struct {
	addrs    []ma.Multiaddr
	envelope []byte
}

func (m membership) equal(o membership) bool {
	return bytes.Equal(m.envelope, o.envelope) &&
		slices.EqualFunc(m.addrs, o.addrs, func(a, b ma.Multiaddr) bool { return a.Equal(b) })
}

// peerMembers is one peer's wanted and held memberships. held is what the
// registry has; only the peer's syncing goroutine writes the registry, so
// writes are ordered per peer and a leave that waited cannot undo a later
// announcement: each write is decided from the wanted state when it runs.
type peerMembers struct {
	wanted  map[string]membership
	held    map[string]membership
	reason  registry.LeftReason
	syncing bool
}

// members keeps every peer's memberships and writes them to the registry
// off the caller's goroutine: gossipsub's validators and notifications never
// wait for a registry write (one can be a cluster round trip).
type members struct {
	reg    registry.Registry
	failed func(error)
	held   func(bool)

	mu    sync.Mutex
	peers map[peer.ID]*peerMembers
	// closed: the service is closing; nothing is wanted any more.
	closed bool
	wg     sync.WaitGroup
}

func newMembers(reg registry.Registry, failed func(error), held func(bool)) *members {
	return &members{reg: reg, failed: failed, held: held, peers: make(map[peer.ID]*peerMembers)}
}

// want asks for p's membership of ns with m.
func (ms *members) want(p peer.ID, ns string, m membership) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.closed {
		return
	}
	pm := ms.peers[p]
	if pm == nil {
		pm = &peerMembers{wanted: make(map[string]membership), held: make(map[string]membership)}
		ms.peers[p] = pm
	}
	if old, ok := pm.wanted[ns]; ok && old.equal(m) {
		if h, ok := pm.held[ns]; ok && h.equal(m) {
			return
		}
	}
	pm.wanted[ns] = m
	ms.kickLocked(p, pm)
}

// addRecord gives env, p's signed record, to each of p's memberships wanted
// without one (the record came after the announcements).
func (ms *members) addRecord(p peer.ID, env []byte) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	pm := ms.peers[p]
	if pm == nil || ms.closed {
		return
	}
	changed := false
	for ns, m := range pm.wanted {
		if m.envelope == nil {
			m.envelope = env
			pm.wanted[ns] = m
			changed = true
		}
	}
	if changed {
		ms.kickLocked(p, pm)
	}
}

// drop ends p's membership of ns (every namespace when ns is "").
func (ms *members) drop(p peer.ID, ns string, reason registry.LeftReason) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	pm := ms.peers[p]
	if pm == nil || ms.closed {
		return
	}
	if ns == "" {
		clear(pm.wanted)
	} else {
		delete(pm.wanted, ns)
	}
	pm.reason = reason
	ms.kickLocked(p, pm)
}

func (ms *members) kickLocked(p peer.ID, pm *peerMembers) {
	if pm.syncing {
		return
	}
	pm.syncing = true
	ms.wg.Add(1)
	go ms.sync(p, pm)
}

// sync writes p's memberships until the registry holds what is wanted.
func (ms *members) sync(p peer.ID, pm *peerMembers) {
	defer ms.wg.Done()
	for {
		ms.mu.Lock()
		ns, m, join, ok := pm.nextLocked()
		if !ok {
			pm.syncing = false
			if len(pm.wanted) == 0 && len(pm.held) == 0 {
				delete(ms.peers, p)
			}
			ms.mu.Unlock()
			return
		}
		reason := pm.reason
		ms.mu.Unlock()

		if join {
			_, err := ms.reg.Register(registry.Registration{
				Namespace: ns, Peer: p, Addrs: m.addrs, Envelope: m.envelope,
				Format: formatOf(m.envelope), Source: registry.SourceLive,
			})
			ms.mu.Lock()
			if err != nil {
				// Not retried until the peer announces again: the want
				// is dropped so that this loop ends.
				if cur, ok := pm.wanted[ns]; ok && cur.equal(m) {
					delete(pm.wanted, ns)
				}
			} else {
				_, had := pm.held[ns]
				pm.held[ns] = m
				if !had {
					ms.held(true)
				}
			}
			ms.mu.Unlock()
			if err != nil {
				ms.failed(err)
			}
			continue
		}
		ms.reg.Unregister(ns, p, registry.SourceLive, reason)
		ms.mu.Lock()
		delete(pm.held, ns)
		ms.mu.Unlock()
		ms.held(false)
	}
}

// nextLocked is the next write: a namespace held but no longer wanted, or
// wanted with other data than held.
func (pm *peerMembers) nextLocked() (ns string, m membership, join, ok bool) {
	for ns := range pm.held {
		if _, want := pm.wanted[ns]; !want {
			return ns, membership{}, false, true
		}
	}
	for ns, w := range pm.wanted {
		if h, held := pm.held[ns]; !held || !h.equal(w) {
			return ns, w, true, true
		}
	}
	return "", membership{}, false, false
}

func formatOf(envelope []byte) registry.RecordFormat {
	if envelope == nil {
		return registry.FormatNone
	}
	return registry.FormatPeerRecord
}

// close ends every membership and returns when the registry has them all
// ended; later calls of want, addRecord and drop do nothing.
func (ms *members) close(reason registry.LeftReason) {
	ms.mu.Lock()
	ms.closed = true
	for p, pm := range ms.peers {
		clear(pm.wanted)
		pm.reason = reason
		ms.kickLocked(p, pm)
	}
	ms.mu.Unlock()
	ms.wg.Wait()
}
