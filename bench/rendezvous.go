package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/protocols/rendezvous"
)

// RendezvousOptions sizes the rendezvous scenario.
type RendezvousOptions struct {
	// Clients is the number of concurrent clients, each its own host.
	Clients int
	// Namespaces spreads the clients over this many namespaces.
	Namespaces int
	// Duration is split evenly between the REGISTER and the DISCOVER phase.
	Duration time.Duration
	// Limit is the DISCOVER limit.
	Limit int
}

func (o *RendezvousOptions) defaults() {
	if o.Clients <= 0 {
		o.Clients = 16
	}
	if o.Namespaces <= 0 {
		o.Namespaces = 4
	}
	if o.Duration <= 0 {
		o.Duration = 20 * time.Second
	}
	if o.Limit <= 0 {
		o.Limit = 100
	}
}

// Rendezvous measures REGISTER and DISCOVER operations per second over
// /rendezvous/1.0.0 with concurrent clients, each waiting for its reply
// before sending the next request.
func Rendezvous(ctx context.Context, t *Target, o RendezvousOptions) (*Report, error) {
	o.defaults()
	r := newReport("rendezvous", t.Kind, map[string]any{
		"clients": o.Clients, "namespaces": o.Namespaces, "duration": o.Duration.String(), "limit": o.Limit,
	})
	keys, err := Keys("", o.Clients)
	if err != nil {
		return nil, err
	}
	clients := make([]*rendezvous.Client, o.Clients)
	var hosts []host.Host
	defer func() {
		for _, h := range hosts {
			_ = h.Close()
		}
	}()
	for i := range o.Clients {
		h, err := NewPeer(keys[i], false)
		if err != nil {
			return nil, err
		}
		hosts = append(hosts, h)
		if err := connect(ctx, h, t.Info); err != nil {
			return nil, err
		}
		// A browser registers its relayed address: it has no other.
		if _, err := client.Reserve(ctx, h, t.Info); err != nil {
			return nil, err
		}
		addrs := circuitAddrs(t.Info, h.ID())
		clients[i] = rendezvous.NewClient(h, t.Info.ID, rendezvous.WithAddrs(func() []ma.Multiaddr { return addrs }))
	}
	ns := func(i int) string { return fmt.Sprintf("bench/rdv-%d", i%o.Namespaces) }
	phase := o.Duration / 2

	reg := runOps(ctx, t, clients, phase, func(ctx context.Context, i int, c *rendezvous.Client) error {
		_, err := c.Register(ctx, ns(i), 0)
		return err
	})
	reg.report(r, "REGISTER", t.Shared)
	disc := runOps(ctx, t, clients, phase, func(ctx context.Context, i int, c *rendezvous.Client) error {
		_, _, err := c.Discover(ctx, ns(i), o.Limit, nil)
		return err
	})
	disc.report(r, "DISCOVER", t.Shared)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return r.finish(), nil
}

type opsResult struct {
	ok, failed      int64
	firstErr        error
	lat             Latencies
	elapsed         time.Duration
	nodeCPU, genCPU float64
}

func (res *opsResult) report(r *Report, name string, shared bool) {
	r.add(name+" ops/s", float64(res.ok)/res.elapsed.Seconds(), "ops/s")
	r.addQuantiles(name+" latency", &res.lat)
	f := r.add(name+" errors", float64(res.failed), "ops")
	if res.firstErr != nil {
		var se *rendezvous.StatusError
		if errors.As(res.firstErr, &se) {
			f.note("first: " + oneLine(se))
		} else {
			f.note("first: " + oneLine(res.firstErr))
		}
	}
	f = r.add("node CPU during "+name, res.nodeCPU, "% of 1 core")
	if shared {
		f.note("in-process node: includes the generator")
	}
	r.add("generator CPU during "+name, res.genCPU, "% of 1 core")
}

func runOps(ctx context.Context, t *Target, clients []*rendezvous.Client, d time.Duration, op func(context.Context, int, *rendezvous.Client) error) *opsResult {
	res := &opsResult{nodeCPU: math.NaN()}
	var ok, failed atomic.Int64
	var mu sync.Mutex
	n0, nerr := sample(t.Node)
	g0, _ := SelfSampler{}.Sample()
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				octx, cancel := context.WithTimeout(ctx, 10*time.Second)
				t0 := time.Now()
				err := op(octx, i, c)
				cancel()
				if err != nil {
					failed.Add(1)
					mu.Lock()
					if res.firstErr == nil {
						res.firstErr = err
					}
					mu.Unlock()
					continue
				}
				res.lat.Add(time.Since(t0))
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	n1, _ := sample(t.Node)
	g1, _ := SelfSampler{}.Sample()
	res.ok, res.failed = ok.Load(), failed.Load()
	if nerr == nil {
		res.nodeCPU = CPUPercent(n0, n1)
	}
	res.genCPU = CPUPercent(g0, g1)
	return res
}
