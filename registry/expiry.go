package registry

import (
	"container/heap"
	"time"
)

// expiryHeap is a min-heap of the entries holding a TTL, keyed on expiry, so
// expiring costs O(log n) per entry and never a scan.
type expiryHeap []*entry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expiry.Before(h[j].expiry) }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx = i
	h[j].heapIdx = j
}

func (h *expiryHeap) Push(x any) {
	e := x.(*entry)
	e.heapIdx = len(*h)
	*h = append(*h, e)
}

func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.heapIdx = -1
	return e
}

// setExpiry adds e to the heap or moves it to its new expiry.
func (m *Memory) setExpiry(e *entry, at time.Time) {
	e.expiry = at
	if e.heapIdx >= 0 {
		heap.Fix(&m.expiries, e.heapIdx)
	} else {
		heap.Push(&m.expiries, e)
	}
}

func (m *Memory) dropExpiry(e *entry) {
	if e.heapIdx >= 0 {
		heap.Remove(&m.expiries, e.heapIdx)
	}
	e.expiry = time.Time{}
}

// expireLocked drops every TTL hold due at now. Every operation calls it
// first, so readers never see a lapsed hold even when the timer runs late.
func (m *Memory) expireLocked(now time.Time) {
	for len(m.expiries) > 0 && !m.expiries[0].expiry.After(now) {
		e := heap.Pop(&m.expiries).(*entry)
		e.ttl = false
		m.mt.HoldExpired()
		if !e.live {
			m.removeLocked(e, ReasonExpired)
		} else {
			// The live hold keeps the member; nothing observable to announce.
			e.expiry = time.Time{}
		}
	}
}

// armLocked points the single timer at the earliest expiry.
func (m *Memory) armLocked() {
	if m.closed {
		return
	}
	if len(m.expiries) == 0 {
		if m.timer != nil && !m.armedAt.IsZero() {
			m.timer.Stop()
			m.armedAt = time.Time{}
		}
		return
	}
	at := m.expiries[0].expiry
	if at.Equal(m.armedAt) {
		return
	}
	m.armedAt = at
	if m.timer == nil {
		m.timer = time.AfterFunc(time.Until(at), m.onTimer)
	} else {
		m.timer.Reset(time.Until(at))
	}
}

func (m *Memory) onTimer() {
	m.mu.Lock()
	defer m.unlock()
	if m.closed {
		return
	}
	m.armedAt = time.Time{}
	m.expireLocked(time.Now())
	m.armLocked()
}
