package wsstar

import "sync"

// coalescer is a FIFO of pending work in which a key is held once: a key
// queued again keeps its place and takes the new value. It suits work that
// re-reads current state when it runs, where only the newest change per key
// matters, and it bounds the queue by the number of distinct keys. It is
// safe for concurrent use.
type coalescer[K comparable, V any] struct {
	mu    sync.Mutex
	order []K // order[head:] are the keys of vals, oldest first
	head  int
	vals  map[K]V
	max   int       // keys held at most; 0: no bound
	onLen func(int) // told the number of keys held after every change, under mu

	// notify is signalled, without blocking, whenever a value is queued.
	notify chan struct{}
}

func newCoalescer[K comparable, V any](max int, onLen func(int)) *coalescer[K, V] {
	if onLen == nil {
		onLen = func(int) {}
	}
	return &coalescer[K, V]{vals: make(map[K]V), max: max, onLen: onLen, notify: make(chan struct{}, 1)}
}

// put queues v under k. It reports false, queuing nothing, when k is not
// held and the bound is reached.
func (c *coalescer[K, V]) put(k K, v V) bool {
	c.mu.Lock()
	if _, ok := c.vals[k]; !ok {
		if c.max > 0 && len(c.vals) >= c.max {
			c.mu.Unlock()
			return false
		}
		c.order = append(c.order, k)
	}
	c.vals[k] = v
	c.onLen(len(c.vals))
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
	return true
}

// take removes and returns up to n values, oldest key first.
func (c *coalescer[K, V]) take(n int) []V {
	c.mu.Lock()
	defer c.mu.Unlock()
	n = min(n, len(c.order)-c.head)
	if n <= 0 {
		return nil
	}
	out := make([]V, 0, n)
	for _, k := range c.order[c.head : c.head+n] {
		out = append(out, c.vals[k])
		delete(c.vals, k)
	}
	c.head += n
	switch {
	case c.head == len(c.order):
		// Emptied: a burst's backing array is not kept.
		if cap(c.order) > 1024 {
			c.order = nil
		} else {
			c.order = c.order[:0]
		}
		c.head = 0
	case c.head > 1024 && 2*c.head > len(c.order):
		// A queue that never empties moves its keys down now and then
		// rather than growing its array forever.
		c.order = c.order[:copy(c.order, c.order[c.head:])]
		c.head = 0
	}
	c.onLen(len(c.vals))
	return out
}
