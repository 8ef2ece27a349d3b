package wsstar

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ws-star/rendezvous/internal/setting"
	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
	"github.com/ws-star/rendezvous/registry"
)

// gatedRegistry is a real in-memory registry whose writes wait at a gate the
// test opens: a JetStream write that does not come back, for as long as the
// test wants. Reads and subscriptions are not held.
type gatedRegistry struct {
	*registry.Memory

	mu      sync.Mutex
	gate    chan struct{} // closed: writes pass
	delay   time.Duration // every write also takes this long
	waiting chan struct{} // gets a value each time a write reaches a closed gate
}

func newGatedRegistry(tb testing.TB) *gatedRegistry {
	open := make(chan struct{})
	close(open)
	g := &gatedRegistry{Memory: registry.NewMemory(), gate: open, waiting: make(chan struct{}, 64)}
	tb.Cleanup(func() { g.open(); _ = g.Memory.Close() })
	return g
}

// hold makes the next writes wait until open.
func (g *gatedRegistry) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.gate:
		g.gate = make(chan struct{})
	default:
	}
}

func (g *gatedRegistry) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.gate:
	default:
		close(g.gate)
	}
}

func (g *gatedRegistry) setDelay(d time.Duration) {
	g.mu.Lock()
	g.delay = d
	g.mu.Unlock()
}

func (g *gatedRegistry) pass() {
	g.mu.Lock()
	gate, delay := g.gate, g.delay
	g.mu.Unlock()
	select {
	case <-gate:
	default:
		g.waiting <- struct{}{}
		<-gate
	}
	time.Sleep(delay)
}

func (g *gatedRegistry) Register(r registry.Registration) (registry.Registration, error) {
	g.pass()
	return g.Memory.Register(r)
}

func (g *gatedRegistry) Unregister(ns string, p peer.ID, src registry.Source, reason registry.LeftReason) bool {
	g.pass()
	return g.Memory.Unregister(ns, p, src, reason)
}

func newGatedNode(t testing.TB, opts ...Option) (*testNode, *gatedRegistry) {
	h := testhost.New(t)
	g := newGatedRegistry(t)
	svc, err := New(h, g, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	// Runs before Close: a write still held would hold Close up.
	t.Cleanup(g.open)
	return &testNode{h: h, reg: g.Memory, svc: svc}, g
}

// TestStalledRegistryWriteHoldsUpOnlyItsOwnStream: while one peer's
// announcing Join waits on a registry write that does not return, the other
// streams of the node go on: joins that only watch are acknowledged, a change
// already in the registry reaches the watchers, joins on other namespaces
// are answered. Once the write returns, its Join is acknowledged and every
// watcher sees each join exactly once.
func TestStalledRegistryWriteHoldsUpOnlyItsOwnStream(t *testing.T) {
	n, g := newGatedNode(t, withLimits(func(l *Limits) { l.FlushInterval = setting.Duration(10 * time.Millisecond) }))
	watcher, _ := n.dial(t)
	join(t, watcher, "room", false, 0)

	g.hold()
	announcer, announcerHost := n.dial(t)
	acked := make(chan error, 1)
	go func() {
		_, err := announcer.Join(t.Context(), "room", true, 0)
		acked <- err
	}()
	select {
	case <-g.waiting:
	case <-time.After(waitFor):
		t.Fatal("the announcing join never reached the registry")
	}

	// A join that only watches, on another stream of another peer.
	late, _ := n.dial(t)
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	if _, err := late.Join(ctx, "room", false, 0); err != nil {
		t.Fatalf("watch-only join while a write is stalled: %v", err)
	}
	if u := nextUpdate(t, late); !u.Snapshot {
		t.Fatalf("got %+v, want the snapshot", u)
	}
	// A join on another namespace, on another stream.
	other, _ := n.dial(t)
	if _, err := other.Join(ctx, "elsewhere", false, 0); err != nil {
		t.Fatalf("join on another namespace while a write is stalled: %v", err)
	}

	// A change already in the registry (written by another node, say)
	// reaches the watchers while the write is stalled.
	direct := randomPeer(t)
	if _, err := g.Memory.Register(registry.Registration{Namespace: "room", Peer: direct,
		Addrs: []ma.Multiaddr{testAddr}, Source: registry.SourceLive}); err != nil {
		t.Fatal(err)
	}
	if e := expectEvent(t, watcher, direct); e.Kind != pb.PeerEvent_JOINED {
		t.Fatalf("event about the direct member: %+v, want JOINED", e)
	}
	if e := expectEvent(t, late, direct); e.Kind != pb.PeerEvent_JOINED {
		t.Fatalf("event about the direct member on the late watcher: %+v, want JOINED", e)
	}
	select {
	case err := <-acked:
		t.Fatalf("the stalled join was answered before its write returned: %v", err)
	default:
	}

	g.open()
	select {
	case err := <-acked:
		if err != nil {
			t.Fatalf("announcing join: %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("the announcing join was not answered after its write returned")
	}
	// Each watcher is told of the announcer once, and of nobody twice.
	for _, c := range []*Client{watcher, late} {
		if e := expectEvent(t, c, announcerHost.ID()); e.Kind != pb.PeerEvent_JOINED {
			t.Fatalf("event about the announcer: %+v, want JOINED", e)
		}
		assertQuiet(t, c, 3*10*time.Millisecond+50*time.Millisecond)
	}
}

// assertQuiet fails if c receives anything within d: a duplicate JOINED
// would arrive within a couple of flush intervals.
func assertQuiet(t *testing.T, c *Client, d time.Duration) {
	t.Helper()
	select {
	case m := <-c.C():
		t.Fatalf("unexpected message: %+v", m)
	case <-time.After(d):
	}
}

// TestStalledLeaveHoldsUpOnlyItsOwnStream: a Leave (and a stream's end)
// whose registry write is stalled does not hold up other streams; once the
// write returns, the watchers see the member leave once.
func TestStalledLeaveHoldsUpOnlyItsOwnStream(t *testing.T) {
	n, g := newGatedNode(t, withLimits(func(l *Limits) { l.FlushInterval = setting.Duration(10 * time.Millisecond) }))
	watcher, _ := n.dial(t)
	join(t, watcher, "room", false, 0)
	leaver, leaverHost := n.dial(t)
	join(t, leaver, "room", true, 0)
	if e := expectEvent(t, watcher, leaverHost.ID()); e.Kind != pb.PeerEvent_JOINED {
		t.Fatalf("event about the leaver: %+v, want JOINED", e)
	}

	g.hold()
	if err := leaver.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.waiting:
	case <-time.After(waitFor):
		t.Fatal("the leave never reached the registry")
	}
	other, _ := n.dial(t)
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	if _, err := other.Join(ctx, "room", false, 0); err != nil {
		t.Fatalf("watch-only join while a leave is stalled: %v", err)
	}

	g.open()
	if e := expectEvent(t, watcher, leaverHost.ID()); e.Kind != pb.PeerEvent_LEFT {
		t.Fatalf("event about the leaver: %+v, want LEFT", e)
	}
	assertQuiet(t, watcher, 80*time.Millisecond)
}

// BenchmarkWatchJoinAckWhileRegistryWritesTake500ms reports how long a
// watch-only Join waits for its ack while other peers' announcing joins wait
// 500 ms each on the registry (a slow cluster write), as p50 and p99.
func BenchmarkWatchJoinAckWhileRegistryWritesTake500ms(b *testing.B) {
	n, g := newGatedNode(b, withLimits(func(l *Limits) { l.JoinRate, l.JoinBurst = 1e6, 1e6 }))
	g.setDelay(500 * time.Millisecond)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := testhost.NewClient(b)
			testhost.Connect(b, h, n.h)
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				c, err := DialBuffer(b.Context(), h, n.h.ID(), 64)
				if err != nil {
					return
				}
				_, _ = c.Join(b.Context(), fmt.Sprintf("busy-%d-%d", i, j), true, 0)
				_ = c.Close()
			}
		}()
	}
	time.Sleep(100 * time.Millisecond) // writes in flight
	h := testhost.NewClient(b)
	testhost.Connect(b, h, n.h)
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		c, err := DialBuffer(b.Context(), h, n.h.ID(), 64)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := c.Join(b.Context(), fmt.Sprintf("watch-%d", i%8), false, 0); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		_ = c.Close()
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	reportQuantiles(b, lat, "ack")
}

// reportQuantiles reports the median and the 99th percentile of lat in ms.
func reportQuantiles(b *testing.B, lat []time.Duration, name string) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(f float64) float64 {
		return float64(lat[min(len(lat)-1, int(f*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.5), name+"-p50-ms")
	b.ReportMetric(q(0.99), name+"-p99-ms")
}

// TestAPeersLeaveThatWaitsDoesNotUndoItsLaterJoin: a peer leaves a
// namespace on one stream and, while that write waits, joins it again on
// another; once the writes go through, in the order they were asked for,
// the peer is a member.
func TestAPeersLeaveThatWaitsDoesNotUndoItsLaterJoin(t *testing.T) {
	n, g := newGatedNode(t, withLimits(func(l *Limits) { l.FlushInterval = setting.Duration(10 * time.Millisecond) }))
	h := testhost.NewClient(t)
	first := n.dialFrom(t, h, 64)
	join(t, first, "room", true, 0)

	g.hold()
	if err := first.Leave("room"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.waiting:
	case <-time.After(waitFor):
		t.Fatal("the leave never reached the registry")
	}
	second := n.dialFrom(t, h, 64)
	acked := make(chan error, 1)
	go func() {
		_, err := second.Join(t.Context(), "room", true, 0)
		acked <- err
	}()
	g.open()
	select {
	case err := <-acked:
		if err != nil {
			t.Fatalf("join after the leave: %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("the join was not answered")
	}
	if _, ok := n.reg.Get("room", h.ID()); !ok {
		t.Fatal("the peer is not a member after joining again")
	}
	// Its first stream's leave does not come back later either.
	time.Sleep(50 * time.Millisecond)
	if _, ok := n.reg.Get("room", h.ID()); !ok {
		t.Fatal("the peer's membership went after its join was acknowledged")
	}
}
