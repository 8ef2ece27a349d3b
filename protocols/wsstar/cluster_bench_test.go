package wsstar

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ws-star/rendezvous/cluster"
	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/internal/testnats"
)

// newClusterNode starts three embedded NATS servers routed to each other
// (replicas 3, as a three-node deployment runs) and the ws-star service of
// one node on the first; the other two nodes run their registries only, so
// every write is a real JetStream round trip through a replicated bucket.
func newClusterNode(b *testing.B) *testNode {
	b.Helper()
	ports := testnats.FreePorts(b, 3)
	route := func(i int) string { return net.JoinHostPort("127.0.0.1", fmt.Sprint(ports[i])) }
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	servers := make([]*cluster.EmbeddedServer, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var routes []string
			for j := range 3 {
				if j != i {
					routes = append(routes, route(j))
				}
			}
			servers[i], errs[i] = cluster.StartServer(cluster.ServerConfig{
				Name: fmt.Sprintf("n%d", i), Cluster: "bench", Listen: route(i), Routes: routes,
				StoreDir: b.TempDir(), Logger: quiet,
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(servers[i].Shutdown)
	}
	regs := make([]*cluster.Registry, 3)
	for i := range 3 {
		nc, err := cluster.Connect(servers[i].Client(fmt.Sprintf("n%d", i)))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(nc.Close)
		l := cluster.DefaultLimits()
		l.Bucket, l.Replicas = "bench", 3
		var r *cluster.Registry
		// The bucket needs the JetStream meta leader, elected a few seconds
		// after the servers meet.
		deadline := time.Now().Add(30 * time.Second)
		for {
			r, err = cluster.New(testhost.New(b), nc, cluster.WithLimits(l), cluster.WithLogger(quiet))
			if err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = r.Close() })
		regs[i] = r
	}
	for !regs[0].Ready() || regs[0].Degraded() {
		time.Sleep(100 * time.Millisecond)
	}
	h := testhost.New(b)
	svc, err := New(h, regs[0], WithLogger(quiet), withLimits(func(l *Limits) {
		l.JoinRate, l.JoinBurst = 1e6, 1e6
		l.MaxJoinsPerStream = 64
	}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = svc.Close() })
	return &testNode{h: h, svc: svc}
}

// BenchmarkClusterJoinsPerSecond: 32 peers, each with one stream to one node
// of a three-node cluster, each joining 8 namespaces (announcing) over that
// stream one after the other. Reports joins per second into the node.
func BenchmarkClusterJoinsPerSecond(b *testing.B) {
	const peers, perPeer = 32, 8
	n := newClusterNode(b)
	clients := make([]*Client, peers)
	for i := range clients {
		h := testhost.NewClient(b)
		testhost.Connect(b, h, n.h)
		c, err := DialBuffer(b.Context(), h, n.h.ID(), 256)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = c.Close() })
		clients[i] = c
		go func() {
			for range c.C() { // the snapshots and events are not looked at
			}
		}()
	}
	b.ResetTimer()
	start := time.Now()
	for round := range b.N {
		var wg sync.WaitGroup
		for i, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range perPeer {
					ns := fmt.Sprintf("ns-%d-%d", (i+k)%16, round)
					if _, err := c.Join(b.Context(), ns, true, 0); err != nil {
						b.Error(err)
						return
					}
				}
				for k := range perPeer {
					_ = c.Leave(fmt.Sprintf("ns-%d-%d", (i+k)%16, round))
				}
			}()
		}
		wg.Wait()
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(peers*perPeer*b.N)/elapsed.Seconds(), "joins/s")
}
