package cluster

import (
	"errors"
	"time"
)

// The watch is an ordered consumer, which JetStream places on any server of
// the bucket's stream, not necessarily this node's. When that server dies,
// the watch delivers nothing until the client library notices the missing
// heartbeats and a meta leader recreates the consumer: with the meta leader
// on the same server, the local copy stayed stale for more than 20 s while
// the node reported itself in sync. Every lease renewal is a write this
// node knows the revision of, so the watch must deliver it: one that a
// lease TTL later is still not applied means the watch has stalled, and the
// session ends (the node is degraded, and the next session opens a new
// watch).

var errWatchStalled = errors.New("cluster: the watch delivered none of this node's own writes for a lease TTL")

// watchProbe is the lease renewal the watch is expected to deliver. Only the
// lease loop touches it.
type watchProbe struct {
	rev uint64
	at  time.Time
}

// checkWatch is called by the lease loop after each renewal that JetStream
// took at revision rev.
func (r *Registry) checkWatch(rev uint64, now time.Time) {
	if !r.healthy.Load() {
		r.probe = watchProbe{} // no session in sync: nothing to expect
		return
	}
	r.appliedMu.Lock()
	applied := r.applied
	r.appliedMu.Unlock()
	switch p := r.probe; {
	case p.rev == 0 || applied >= p.rev:
		r.probe = watchProbe{rev: rev, at: now}
	case now.Sub(p.at) >= r.opts.lim.LeaseTTL.D():
		r.probe = watchProbe{}
		select {
		case r.stalled <- struct{}{}:
		default:
		}
	}
}
