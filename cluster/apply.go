package cluster

import (
	"time"

	"github.com/ws-star/rendezvous/registry"
)

// seqFor maps a bucket revision to a registry Seq. Every node maps a
// revision alike, so DISCOVER cookies page on any node; the epoch (the
// bucket's creation time in nanoseconds) keeps cursors issued by a node's
// earlier in-memory registry ordered before everything in the bucket, and
// the spacing leaves room for changes no write made (a node going away).
func (r *Registry) seqFor(rev uint64) uint64 {
	if rev == 0 {
		return 0
	}
	return r.epoch.Load() + rev<<10
}

// putLocked stores a hold and shows the result; r.mu must be held.
func (r *Registry) putLocked(k parsedKey, key string, rev uint64, v value) {
	switch k.kind {
	case keyTTL, keyBound, keyLive:
	default:
		return
	}
	h := &hold{key: key, kind: k.kind, inst: k.inst, rev: rev, val: v}
	if r.st.put(k.member, h) {
		r.deriveLocked(k.member, r.seqFor(rev), registry.ReasonExpired) // only lapsed holds can make a put remove
	}
}

// removeLocked drops a hold and shows the result; r.mu must be held.
func (r *Registry) removeLocked(k parsedKey, key string, rev uint64, reason registry.LeftReason) {
	switch k.kind {
	case keyTTL, keyBound, keyLive:
	default:
		return
	}
	if r.st.remove(k.member, key, rev) {
		r.deriveLocked(k.member, r.seqFor(rev), reason)
	}
}

// deriveLocked applies mk's merged holds to the local copy.
func (r *Registry) deriveLocked(mk memberKey, seq uint64, reason registry.LeftReason) {
	reg, h := r.st.derive(mk, r.aliveLocked, time.Now())
	reg.Seq = seq
	r.local.Apply(reg, h, reason)
}

// aliveLocked reports whether instance inst's holds count.
func (r *Registry) aliveLocked(inst string) bool {
	if inst == r.inst {
		return true
	}
	n := r.nodes[inst]
	return n != nil && n.alive
}
