package bench

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// This machine's kernel has no netem, so added latency between the nodes
// is made in user space: every route connection between two nodes goes
// through a relay in the root namespace that holds each chunk for the
// link's delay, one direction at a time, in order. The nodes reach each
// other only through the relays: blackhole routes cut their direct paths
// (routes that NATS learns by gossip included).

// routeRelays relays the route connections of n nodes.
type routeRelays struct {
	n     int
	lns   []net.Listener // [from*n+to]
	delay []atomic.Int64 // one-way delay from→to, ns
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// relayChunks bounds what a relay holds per direction: 256 × 32 KiB.
const (
	relayChunk  = 32 << 10
	relayChunks = 256
)

// newRouteRelays listens on gw for every ordered pair of nodes; node i's
// routes are then Addr(i, j) for every other j, and to[j] is node j's route
// address.
func newRouteRelays(gw netip.Addr, to []string) (*routeRelays, error) {
	n := len(to)
	r := &routeRelays{n: n, lns: make([]net.Listener, n*n), delay: make([]atomic.Int64, n*n), conns: map[net.Conn]struct{}{}}
	for i := range n {
		for j := range n {
			if i == j {
				continue
			}
			ln, err := net.Listen("tcp", netip.AddrPortFrom(gw, 0).String())
			if err != nil {
				r.close()
				return nil, err
			}
			r.lns[i*n+j] = ln
			r.wg.Go(func() { r.serve(ln, to[j], &r.delay[i*n+j], &r.delay[j*n+i]) })
		}
	}
	return r, nil
}

// Addr is where node from dials node to.
func (r *routeRelays) Addr(from, to int) string { return r.lns[from*r.n+to].Addr().String() }

// ports are the relays' listening ports: with the nodes' route port, what
// the traffic between the nodes comes to or from in their namespaces.
func (r *routeRelays) ports() []uint16 {
	var ps []uint16
	for _, ln := range r.lns {
		if ln != nil {
			ps = append(ps, uint16(ln.Addr().(*net.TCPAddr).Port))
		}
	}
	return ps
}

// setDelay sets the one-way delay of every link between i and j, both ways.
func (r *routeRelays) setDelay(i, j int, d time.Duration) {
	r.delay[i*r.n+j].Store(int64(d))
	r.delay[j*r.n+i].Store(int64(d))
}

func (r *routeRelays) serve(ln net.Listener, target string, out, back *atomic.Int64) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		d, err := net.DialTimeout("tcp", target, 5*time.Second)
		if err != nil {
			_ = c.Close()
			continue
		}
		if !r.track(c, d) {
			return
		}
		r.wg.Go(func() { relay(d, c, out); r.untrack(c, d) })
		r.wg.Go(func() { relay(c, d, back); r.untrack(c, d) })
	}
}

func (r *routeRelays) track(cs ...net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conns == nil {
		for _, c := range cs {
			_ = c.Close()
		}
		return false
	}
	for _, c := range cs {
		r.conns[c] = struct{}{}
	}
	return true
}

// untrack closes both ends: one direction ending ends the connection.
func (r *routeRelays) untrack(cs ...net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range cs {
		_ = c.Close()
		delete(r.conns, c)
	}
}

// relay copies src to dst, each chunk written delay after it was read.
func relay(dst, src net.Conn, delay *atomic.Int64) {
	type chunk struct {
		b  []byte
		at time.Time
	}
	ch := make(chan chunk, relayChunks)
	go func() {
		defer close(ch)
		for {
			buf := make([]byte, relayChunk)
			n, err := src.Read(buf)
			if n > 0 {
				ch <- chunk{buf[:n], time.Now()}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range ch {
		if w := time.Until(c.at.Add(time.Duration(delay.Load()))); w > 0 {
			time.Sleep(w)
		}
		if _, err := dst.Write(c.b); err != nil {
			_ = src.Close()
			for range ch {
			}
			return
		}
	}
}

// close stops the listeners and every relayed connection.
func (r *routeRelays) close() {
	for _, ln := range r.lns {
		if ln != nil {
			_ = ln.Close()
		}
	}
	r.mu.Lock()
	for c := range r.conns {
		_ = c.Close()
	}
	r.conns = nil
	r.mu.Unlock()
	r.wg.Wait()
}
