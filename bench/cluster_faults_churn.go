package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// What the faults scenario keeps running and checks: churn on every node,
// and the views and registries against the live peers.

// labChurn makes one peer leave and a new one join its namespace on the
// same node (another running node while that one is down) rate times a
// second, until stop.
type labChurn struct {
	leaves, joins, failed atomic.Int64
	stopOnce              sync.Once
	stopc                 chan struct{}
	done                  sync.WaitGroup
}

func (c *labCluster) churn(ctx context.Context, s *swarm, pop *population, rate float64, conc int, timeout time.Duration) *labChurn {
	ch := &labChurn{stopc: make(chan struct{})}
	sem := make(chan struct{}, max(conc, 1))
	ch.done.Go(func() {
		tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch.stopc:
				return
			case <-tick.C:
			}
			gone := pop.removeRandom()
			if gone == nil {
				continue
			}
			s.stop(gone, true)
			ch.leaves.Add(1)
			at := c.upNodeFor(c.index(gone.node))
			if at < 0 {
				ch.failed.Add(1)
				continue
			}
			select {
			case sem <- struct{}{}:
			default:
				ch.failed.Add(1) // the generator cannot keep up: counted, not queued
				continue
			}
			ch.done.Go(func() {
				defer func() { <-sem }()
				k, _, err := crypto.GenerateEd25519Key(rand.Reader)
				if err != nil {
					ch.failed.Add(1)
					return
				}
				pctx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				p, err := s.startOn(pctx, c.nodes[at].Info, k, gone.ns, true)
				if err != nil {
					s.fail(err)
					ch.failed.Add(1)
					return
				}
				ch.joins.Add(1)
				pop.add(p)
			})
		}
	})
	return ch
}

// stop ends the churn and waits for the arrivals in flight.
func (ch *labChurn) stop() {
	ch.stopOnce.Do(func() { close(ch.stopc) })
	ch.done.Wait()
}

// upNodeFor is node i when it runs, else a running node at random; -1 when
// none runs.
func (c *labCluster) upNodeFor(i int) int {
	if i >= 0 && c.isUp(i) {
		return i
	}
	var up []int
	for j := range c.nodes {
		if c.isUp(j) {
			up = append(up, j)
		}
	}
	if len(up) == 0 {
		return -1
	}
	return up[mrand.IntN(len(up))]
}

// agree polls the audit until no view lacks a live member or shows a gone
// one, or within has passed; it returns the time that took (NaN when the
// views did not agree) and the last audit.
func (s *swarm) agree(ctx context.Context, within time.Duration) (float64, audit) {
	t0 := time.Now()
	for {
		a := s.audit()
		if a.lost() == 0 {
			return time.Since(t0).Seconds(), a
		}
		if time.Since(t0) >= within || sleep(ctx, 100*time.Millisecond) != nil {
			return math.NaN(), a
		}
	}
}

// ghosts is, per running node, the members of its registry beyond the live
// peers: rendezvous_registrations counts the whole cluster's.
func (c *labCluster) ghosts(live int) (worst float64, note string) {
	var parts []string
	for i, t := range c.nodes {
		if !c.isUp(i) {
			continue
		}
		n, err := scrapeGauge(t.MetricsURL, "rendezvous_registrations")
		if err != nil {
			return math.NaN(), oneLine(err)
		}
		g := n - float64(live)
		worst = math.Max(worst, math.Abs(g))
		parts = append(parts, fmt.Sprintf("node %d: %.0f", i+1, n))
	}
	return worst, fmt.Sprintf("registrations per node against %d live peers: %s", live, strings.Join(parts, ", "))
}

// acrossCut counts the (view, member) pairs where a view on a node of a
// shows a member connected to a node of b.
func (c *labCluster) acrossCut(s *swarm, a, b []int) int {
	side := func(id peer.ID, of []int) bool { return slices.Contains(of, c.index(id)) }
	s.mu.Lock()
	nodeOf := make(map[peer.ID]peer.ID)
	for _, set := range s.byNS {
		for p := range set {
			nodeOf[p.id] = p.node
		}
	}
	s.mu.Unlock()
	return s.countViews(func(w *livePeer, _ int) int {
		if w.ended || !side(w.node, a) {
			return 0
		}
		n := 0
		for _, m := range w.view.Peers() {
			if at, ok := nodeOf[m]; ok && side(at, b) {
				n++
			}
		}
		return n
	})
}

// healthLog follows every node's /healthz status and /readyz code, and
// notes each change with its time from a phase's start.
type healthLog struct {
	c       *labCluster
	t0      time.Time
	endOnce sync.Once
	ended   []string
	mu      sync.Mutex
	last    []string
	log     [][]string
	stop    chan struct{}
	done    chan struct{}
}

var healthClient = &http.Client{Timeout: 2 * time.Second}

func (c *labCluster) watchHealth(ctx context.Context, t0 time.Time) *healthLog {
	h := &healthLog{c: c, t0: t0, last: make([]string, len(c.nodes)), log: make([][]string, len(c.nodes)),
		stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		for {
			for i := range c.nodes {
				h.poll(i)
			}
			select {
			case <-ctx.Done():
				return
			case <-h.stop:
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	return h
}

func (h *healthLog) poll(i int) {
	state := "down"
	if h.c.isUp(i) {
		base := strings.TrimSuffix(h.c.nodes[i].MetricsURL, "/metrics")
		state = fmt.Sprintf("healthz %s, readyz %s", probeStatus(base+"/healthz", true), probeStatus(base+"/readyz", false))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if state != h.last[i] {
		h.last[i] = state
		h.log[i] = append(h.log[i], fmt.Sprintf("%+.1f s %s", time.Since(h.t0).Seconds(), state))
	}
}

// probeStatus is the answer's code, and for /healthz its status field.
func probeStatus(url string, body bool) string {
	resp, err := healthClient.Get(url)
	if err != nil {
		return "no answer"
	}
	defer resp.Body.Close()
	out := fmt.Sprint(resp.StatusCode)
	if body {
		var b [256]byte
		n, _ := resp.Body.Read(b[:])
		if _, rest, ok := strings.Cut(string(b[:n]), `"status":"`); ok {
			st, _, _ := strings.Cut(rest, `"`)
			out += " " + st
		}
	}
	return out
}

// end stops the polling and returns, per node, its changes; it may be
// called again (a phase defers it for its error paths).
func (h *healthLog) end() []string {
	h.endOnce.Do(func() {
		close(h.stop)
		<-h.done
		for i := range h.c.nodes {
			h.poll(i)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.ended = make([]string, len(h.log))
		for i, l := range h.log {
			h.ended[i] = strings.Join(l, "; ")
		}
	})
	return h.ended
}
