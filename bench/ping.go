package bench

import (
	"context"
	"crypto/rand"
	"io"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
)

// pingConcurrency bounds the ping streams in flight: a ping takes about a
// round trip, so a few suffice for tens of thousands of peers.
const pingConcurrency = 64

// pinger makes every peer open a new /ipfs/ping/1.0.0 stream to its node
// every interval, as js-libp2p's connection monitor does in a browser: one
// 32-byte ping and its echo per stream, then the stream is closed. The peers
// are served in turn, spread evenly over the interval, by a few goroutines
// of the generator, not one per peer.
type pinger struct {
	sent, failed atomic.Int64
	stop         context.CancelFunc
	done         chan struct{}
}

func startPinger(ctx context.Context, peers []*livePeer, every time.Duration) *pinger {
	ctx, cancel := context.WithCancel(ctx)
	p := &pinger{stop: cancel, done: make(chan struct{})}
	if every <= 0 || len(peers) == 0 {
		close(p.done)
		return p
	}
	slots := make(chan struct{}, pingConcurrency)
	go func() {
		defer close(p.done)
		tick := time.NewTicker(max(every/time.Duration(len(peers)), time.Microsecond))
		defer tick.Stop()
		for i := 0; ; i = (i + 1) % len(peers) {
			select {
			case <-ctx.Done():
				for range pingConcurrency { // wait for those in flight
					slots <- struct{}{}
				}
				return
			case <-tick.C:
			}
			select {
			case slots <- struct{}{}:
			default:
				p.failed.Add(1) // the node is too slow to answer: count, don't pile up
				continue
			}
			go func(lp *livePeer) {
				defer func() { <-slots }()
				if err := pingOnce(ctx, lp); err != nil {
					if ctx.Err() == nil {
						p.failed.Add(1)
					}
					return
				}
				p.sent.Add(1)
			}(peers[i])
		}
	}()
	return p
}

func (p *pinger) close() {
	p.stop()
	<-p.done
}

func pingOnce(ctx context.Context, lp *livePeer) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	str, err := lp.h.NewStream(ctx, lp.node, ping.ID)
	if err != nil {
		return err
	}
	defer str.Close()
	_ = str.SetDeadline(time.Now().Add(10 * time.Second))
	var out, in [ping.PingSize]byte
	_, _ = rand.Read(out[:])
	if _, err := str.Write(out[:]); err != nil {
		_ = str.Reset()
		return err
	}
	if _, err := io.ReadFull(str, in[:]); err != nil {
		_ = str.Reset()
		return err
	}
	return nil
}
