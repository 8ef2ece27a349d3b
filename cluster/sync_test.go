package cluster

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ws-star/rendezvous/internal/setting"
	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/internal/testnats"
	"github.com/ws-star/rendezvous/registry"
)

// startEmbedded starts n embedded servers of one cluster on loopback with
// the given fsync settings.
func startEmbedded(tb testing.TB, n int, interval time.Duration, always bool) []*EmbeddedServer {
	tb.Helper()
	ports := testnats.FreePorts(tb, n)
	addrs := make([]string, n)
	for i, p := range ports {
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", p)
	}
	out := make([]*EmbeddedServer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		var routes []string
		for j, a := range addrs {
			if j != i {
				routes = append(routes, a)
			}
		}
		cfg := ServerConfig{Name: fmt.Sprintf("s%d", i), Cluster: "test", Listen: addrs[i], Routes: routes,
			StoreDir: tb.TempDir(), SyncInterval: interval, SyncAlways: always}
		wg.Go(func() { out[i], errs[i] = StartServer(cfg) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(out[i].Shutdown)
	}
	return out
}

func TestEmbeddedServerTakesTheFsyncSettings(t *testing.T) {
	for _, c := range []struct {
		interval time.Duration
		always   bool
	}{{DefaultSyncInterval, false}, {time.Minute, true}} {
		s := startEmbedded(t, 1, c.interval, c.always)[0]
		js := s.srv.JetStreamConfig()
		if js == nil || js.SyncInterval != c.interval || js.SyncAlways != c.always {
			t.Errorf("asked for sync_interval %s, sync_always %v; JetStream runs with %+v", c.interval, c.always, js)
		}
	}
}

// BenchmarkRegisterThreeReplicas times one TTL registration written to a
// three-server embedded cluster (replicas 3) and seen by the writer's watch,
// with the default fsync interval and with an fsync per write:
//
//	go test -run '^$' -bench RegisterThreeReplicas -benchtime 2000x -count 5 ./cluster
func BenchmarkRegisterThreeReplicas(b *testing.B) {
	for _, c := range []struct {
		name   string
		always bool
	}{{"sync_interval=10s", false}, {"sync_always", true}} {
		b.Run(c.name, func(b *testing.B) {
			srvs := startEmbedded(b, 3, DefaultSyncInterval, c.always)
			nc, err := Connect(srvs[0].Client(b.Name()))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(nc.Close)
			r, err := New(testhost.New(b), nc, WithLimits(Limits{Bucket: testBucket, Replicas: 3, LeaseTTL: setting.Duration(testLease)}),
				WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = r.Close() })
			waitFor(b, 30*time.Second, "registry in sync", func() bool { return !r.Degraded() })
			regs := make([]registry.Registration, b.N)
			for i := range regs {
				regs[i] = member(b, "room", registry.SourceRendezvous, time.Hour)
			}
			b.ResetTimer()
			for i := range b.N {
				if _, err := r.Register(regs[i]); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if r.Degraded() {
				b.Fatal("the registry fell back to its local copy: the figure is not JetStream's")
			}
		})
	}
}
