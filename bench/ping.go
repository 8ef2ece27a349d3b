package bench

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ws-star/rendezvous/internal/browserping"
)

// pingConcurrency bounds the ping streams in flight: a ping takes about a
// round trip, so a few suffice for tens of thousands of peers.
const pingConcurrency = 64

// pinger makes every peer open a new /ipfs/ping/1.0.0 stream to its node
// every interval, as js-libp2p's connection monitor does in a browser: one
// 32-byte ping and its echo per stream, then the stream is closed, frame for
// frame as js-libp2p sends them (see internal/browserping). The peers
// are served in turn, spread evenly over the interval, by a few goroutines
// of the generator, not one per peer.
type pinger = spread

// pingTarget is one peer that pings: its host and the node it pings.
type pingTarget struct {
	h    host.Host
	node peer.ID
}

func startPinger(ctx context.Context, peers []*livePeer, every time.Duration) *pinger {
	targets := make([]pingTarget, len(peers))
	for i, lp := range peers {
		targets[i] = pingTarget{h: lp.h, node: lp.node}
	}
	return startPings(ctx, targets, every)
}

// startPings is startPinger for any hosts.
func startPings(ctx context.Context, targets []pingTarget, every time.Duration) *pinger {
	return startSpread(ctx, len(targets), every, pingConcurrency, func(ctx context.Context, i int) error {
		return pingOnce(ctx, targets[i].h, targets[i].node)
	})
}

// spread calls its function for slots 0..n-1 in turn, every slot once per
// period, spread evenly over it, with at most conc calls in flight. A slot
// whose turn comes while conc calls are in flight is counted failed, not
// queued: a node too slow to answer is measured, not piled onto.
type spread struct {
	sent, failed atomic.Int64
	stop         context.CancelFunc
	done         chan struct{}
}

// spreadTick is the scheduler's wake-up period at most: every wake-up runs
// the slots whose time has come.
const spreadTick = 5 * time.Millisecond

func startSpread(ctx context.Context, n int, every time.Duration, conc int, fn func(ctx context.Context, i int) error) *spread {
	ctx, cancel := context.WithCancel(ctx)
	p := &spread{stop: cancel, done: make(chan struct{})}
	if every <= 0 || n == 0 {
		close(p.done)
		return p
	}
	slots := make(chan struct{}, conc)
	go func() {
		defer close(p.done)
		tick := time.NewTicker(max(min(every/time.Duration(n), spreadTick), time.Microsecond))
		defer tick.Stop()
		start := time.Now()
		var next int64 // calls made so far, all slots and rounds together
		for {
			select {
			case <-ctx.Done():
				for range conc { // wait for those in flight
					slots <- struct{}{}
				}
				return
			case now := <-tick.C:
				due := int64(now.Sub(start) * time.Duration(n) / every)
				for ; next < due; next++ {
					select {
					case slots <- struct{}{}:
					default:
						p.failed.Add(1)
						continue
					}
					go func(i int) {
						defer func() { <-slots }()
						switch err := fn(ctx, i); {
						case err == nil:
							p.sent.Add(1)
						case ctx.Err() == nil:
							p.failed.Add(1)
						}
					}(int(next % int64(n)))
				}
			}
		}
	}()
	return p
}

func (p *spread) close() {
	p.stop()
	<-p.done
}

// pingOnce makes one ping on the peer's connection to its node with the
// frame sequence of js-libp2p's connection monitor.
func pingOnce(ctx context.Context, h host.Host, node peer.ID) error {
	conns := h.Network().ConnsToPeer(node)
	if len(conns) == 0 {
		return errNotConnected
	}
	return browserping.Ping(ctx, conns[0])
}

var errNotConnected = errors.New("bench: peer not connected to its node")
