package registry

import (
	"bytes"
	"slices"
	"time"
)

// Holds are the holds a shared backend's local copy knows for one member,
// merged over every node: Live when some live node holds it live, Expiry the
// latest TTL hold's expiry (zero when there is none).
type Holds struct {
	Live   bool
	Expiry time.Time
}

// Admit checks r as Register would, against the registry's current contents,
// without storing anything: the limits, a TTL hold's expiry, and the count
// caps for a new member. A shared backend calls it on its local copy before
// writing, which makes the caps cluster-wide up to the writes in flight.
func (m *Memory) Admit(r Registration) error {
	if err := m.limits.check(&r, m.policy); err != nil {
		return m.reject(r, err)
	}
	if r.Source == SourceRendezvous && !r.Expiry.After(time.Now()) {
		return m.reject(r, ErrInvalidExpiry)
	}
	m.mu.Lock()
	defer m.unlock()
	if m.closed {
		return ErrClosed
	}
	m.expireLocked(time.Now())
	ns := m.namespaces[r.Namespace]
	if ns != nil && ns.members[r.Peer] != nil {
		return nil
	}
	if err := m.admitLocked(r.Peer, r.Namespace, ns); err != nil {
		return m.reject(r, err)
	}
	return nil
}

// Apply makes r's membership exactly h, with r's addresses, record and
// format, as a shared backend learned it; no caps apply, since the copy
// mirrors what the cluster admitted. Events are those Register and
// Unregister would emit for the same change: Joined for a new member,
// Updated when addresses, record or format changed, Left with reason when no
// hold remains (an expiry already past counts as none), nothing otherwise.
//
// r.Seq orders the member in Discover: it is used when it is greater than
// every Seq so far, and replaced by the next one otherwise, so the logs stay
// sorted whatever the caller passes (0 for a change no backend write made).
func (m *Memory) Apply(r Registration, h Holds, reason LeftReason) {
	now := time.Now()
	ttl := !h.Expiry.IsZero() && h.Expiry.After(now)
	m.mu.Lock()
	defer m.unlock()
	if m.closed {
		return
	}
	m.expireLocked(now)
	ns := m.namespaces[r.Namespace]
	var e *entry
	if ns != nil {
		e = ns.members[r.Peer]
	}
	if !ttl && !h.Live {
		if e != nil {
			if !h.Expiry.IsZero() {
				reason = ReasonExpired
			}
			m.removeLocked(e, reason)
		}
		return
	}

	var kind EventKind
	switch {
	case e == nil:
		e = m.addLocked(ns, r)
		kind = Joined
	case !equalAddrs(e.addrs, r.Addrs) || !bytes.Equal(e.envelope, r.Envelope) || e.format != r.Format:
		kind = Updated
	case e.live == h.Live && e.ttl == ttl && (!ttl || e.expiry.Equal(h.Expiry)):
		return // nothing changed: a replayed or echoed write
	}
	if kind != 0 {
		e.addrs = slices.Clone(r.Addrs)
		e.envelope = bytes.Clone(r.Envelope)
		e.format = r.Format
	}
	e.live = h.Live
	e.ttl = ttl
	if ttl {
		m.setExpiry(e, h.Expiry)
	} else {
		m.dropExpiry(e)
	}

	m.stampLocked(e, r.Seq, kind)
}
