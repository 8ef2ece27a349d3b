package registry

import "sync/atomic"

type subscription struct {
	ns   string
	fn   func(Event)
	idx  int // position in Memory.subs[ns]
	dead atomic.Bool
}

// Subscribe implements Registry. With ns == "" fn receives the events of
// every namespace.
//
// Delivery is synchronous: fn runs on the goroutine that caused the event (a
// Register, an Unregister, any call that expired a TTL hold, or the expiry
// timer) while that goroutine holds the registry lock. That gives one total
// order of events with no queue to grow, and a snapshot (Discover, Random)
// taken right after Subscribe misses nothing. The price: fn must return
// quickly (hand the event over with a non-blocking channel send, say) and
// must not call any method of the registry, which would deadlock; calling
// cancel from fn is allowed. The subscribers of an event share its Reg
// slices: fn must not modify them.
//
// Once cancel has returned, fn is not called for any later event; a call
// already running on another goroutine may still finish.
func (m *Memory) Subscribe(ns string, fn func(Event)) (cancel func()) {
	m.mu.Lock()
	defer m.unlock()
	if m.closed || fn == nil {
		return func() {}
	}
	s := &subscription{ns: ns, fn: fn, idx: len(m.subs[ns])}
	m.subs[ns] = append(m.subs[ns], s)
	m.subCount++
	return func() { m.cancel(s) }
}

// cancel must not take m.mu, because it may run inside fn while the lock is
// held. It marks the subscription dead (dispatch skips it from now on) and
// queues it for removal, done by whoever holds the lock next.
func (m *Memory) cancel(s *subscription) {
	if s.dead.Swap(true) {
		return
	}
	m.cancelMu.Lock()
	m.cancelled = append(m.cancelled, s)
	m.cancelMu.Unlock()
	m.sweepPending.Store(true)
	if m.mu.TryLock() {
		m.unlock()
	}
}

// unlock removes cancelled subscriptions, then releases m.mu.
func (m *Memory) unlock() {
	if m.sweepPending.Load() {
		m.sweepLocked()
	}
	m.mu.Unlock()
}

func (m *Memory) sweepLocked() {
	m.cancelMu.Lock()
	dead := m.cancelled
	m.cancelled = nil
	m.sweepPending.Store(false)
	m.cancelMu.Unlock()
	if m.subs == nil { // closed: everything is gone already
		return
	}
	for _, s := range dead {
		list := m.subs[s.ns]
		last := len(list) - 1
		if s.idx > last || list[s.idx] != s {
			continue
		}
		// Swap-remove: order across subscribers does not matter, each one
		// still sees its events in order.
		list[s.idx] = list[last]
		list[s.idx].idx = s.idx
		list[last] = nil
		list = list[:last]
		if len(list) == 0 {
			delete(m.subs, s.ns)
		} else {
			m.subs[s.ns] = list
		}
		m.subCount--
	}
}

// emitLocked delivers ev to the subscribers of its namespace and to those of
// all namespaces.
func (m *Memory) emitLocked(ev Event) {
	m.mt.EventPublished(ev.Kind)
	deliver := func(list []*subscription) {
		// fn may cancel; the sweep waits for unlock, so list stays intact.
		for _, s := range list {
			if !s.dead.Load() {
				s.fn(ev)
			}
		}
	}
	deliver(m.subs[ev.Reg.Namespace])
	deliver(m.subs[""])
}
