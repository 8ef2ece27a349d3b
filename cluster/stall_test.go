package cluster

import (
	"testing"
	"time"

	"github.com/ws-star/rendezvous/internal/setting"
)

func stalledNow(r *Registry) bool {
	select {
	case <-r.stalled:
		return true
	default:
		return false
	}
}

func TestWatchMissingTheNodesOwnRenewalForALeaseTTLEndsTheSession(t *testing.T) {
	r := &Registry{stalled: make(chan struct{}, 1)}
	r.opts.lim.LeaseTTL = setting.Duration(3 * time.Second)
	r.healthy.Store(true)
	t0 := time.Now()

	// The watch delivers each renewal before the next: never stalled.
	for i := range 10 {
		rev := uint64(10 + i)
		r.checkWatch(rev, t0.Add(time.Duration(i)*time.Second))
		r.markApplied(rev)
	}
	if stalledNow(r) {
		t.Fatal("a watch that keeps up was reported stalled")
	}

	// From revision 30 on, nothing comes back: stalled once the oldest
	// renewal waited for is a lease TTL old, not before.
	base := t0.Add(20 * time.Second)
	r.checkWatch(30, base)
	r.checkWatch(31, base.Add(time.Second))
	r.checkWatch(32, base.Add(2*time.Second))
	if stalledNow(r) {
		t.Fatal("reported stalled before a lease TTL had passed")
	}
	r.checkWatch(33, base.Add(3*time.Second))
	if !stalledNow(r) {
		t.Fatal("a watch silent for a lease TTL was not reported stalled")
	}

	// A degraded node expects nothing from its watch.
	r.healthy.Store(false)
	r.checkWatch(40, base.Add(10*time.Second))
	r.healthy.Store(true)
	r.checkWatch(41, base.Add(20*time.Second))
	r.checkWatch(42, base.Add(22*time.Second))
	if stalledNow(r) {
		t.Fatal("a renewal from before the node was degraded counted against the new watch")
	}
}
