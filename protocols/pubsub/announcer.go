package pubsub

import (
	"container/list"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ws-star/rendezvous/registry"
)

// rotation is the order in which the node announces the members of one
// discovery topic: plain data, fed by registry events, read by the ticker.
// The front is next. A member that joined goes to the front, an announced one
// to the back, so the members announced in any k consecutive announcements
// are k distinct ones while the topic has more than k members, and each
// member comes round at most once per interval.
type rotation struct {
	mu     sync.Mutex
	order  *list.List // of *rotating
	byPeer map[peer.ID]*list.Element
}

type rotating struct {
	reg registry.Registration
	// data is the encoded announcement, built when first needed.
	data []byte
	// last is when the member was last announced; zero: due.
	last time.Time
}

func newRotation() *rotation {
	return &rotation{order: list.New(), byPeer: make(map[peer.ID]*list.Element)}
}

// apply takes one registry event. It runs under the registry's lock: list
// operations only.
func (r *rotation) apply(ev registry.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.applyLocked(ev)
}

func (r *rotation) applyLocked(ev registry.Event) {
	p := ev.Reg.Peer
	e, ok := r.byPeer[p]
	switch {
	case ev.Kind == registry.Left:
		if ok {
			r.order.Remove(e)
			delete(r.byPeer, p)
		}
	case ok:
		m := e.Value.(*rotating)
		if !sameAnnouncement(m.reg, ev.Reg) {
			// New addresses are worth telling soon.
			m.reg, m.data, m.last = ev.Reg, nil, time.Time{}
			r.order.MoveToFront(e)
		}
	default:
		r.byPeer[p] = r.order.PushFront(&rotating{reg: ev.Reg})
	}
}

func sameAnnouncement(a, b registry.Registration) bool {
	if len(a.Addrs) != len(b.Addrs) {
		return false
	}
	for i := range a.Addrs {
		if !a.Addrs[i].Equal(b.Addrs[i]) {
			return false
		}
	}
	return true
}

// next returns the member to announce now and marks it announced, or false
// when every member was announced within interval.
func (r *rotation) next(now time.Time, interval time.Duration) (*rotating, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.order.Front()
	if e == nil {
		return nil, false
	}
	m := e.Value.(*rotating)
	if !m.last.IsZero() && now.Sub(m.last) < interval {
		return nil, false
	}
	m.last = now
	r.order.MoveToBack(e)
	return m, true
}

// setData keeps m's encoded announcement unless m changed meanwhile.
func (r *rotation) setData(m *rotating, reg registry.Registration, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if sameAnnouncement(m.reg, reg) {
		m.data = data
	}
}

// snapshot returns m's registration and encoded announcement (nil if not
// built yet).
func (r *rotation) snapshot(m *rotating) (registry.Registration, []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return m.reg, m.data
}

// dueAll makes every member due again, so a newcomer to a small topic learns
// all of it within one round instead of one interval. The tick still bounds
// the rate.
func (r *rotation) dueAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for e := r.order.Front(); e != nil; e = e.Next() {
		e.Value.(*rotating).last = time.Time{}
	}
}

// len is the number of members.
func (r *rotation) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.order.Len()
}

// load adds a member found by listing the namespace, unless an event already
// brought it.
func (r *rotation) load(ev registry.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byPeer[ev.Reg.Peer]; !ok {
		r.applyLocked(ev)
	}
}
