package pubsub

import (
	"testing"
	"time"

	gs "github.com/libp2p/go-libp2p-pubsub"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ws-star/rendezvous/internal/setting"
	"github.com/ws-star/rendezvous/internal/testhost"
	"github.com/ws-star/rendezvous/internal/testpubsub"
	"github.com/ws-star/rendezvous/registry"
)

// fastLimits announce every member once a second, as tests cannot wait for
// pubsub-peer-discovery's 10 s.
func fastLimits() Limits {
	l := DefaultLimits()
	l.AnnounceInterval = setting.Duration(time.Second)
	l.AnnouncementsPerInterval = 32
	return l
}

type testNode struct {
	h       host.Host
	reg     *registry.Memory
	svc     *Service
	metrics *prometheus.Registry
}

func newNode(t *testing.T, opts ...Option) *testNode {
	t.Helper()
	h := testhost.New(t)
	reg := registry.NewMemory()
	pr := prometheus.NewRegistry()
	opts = append([]Option{WithLimits(fastLimits()), WithRegisterer(pr)}, opts...)
	svc, err := New(h, reg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = svc.Close()
		_ = reg.Close()
	})
	return &testNode{h: h, reg: reg, svc: svc, metrics: pr}
}

// count is rendezvous_pubsub_messages_total{topic,result}.
func (n *testNode) count(topic string, r Result) float64 {
	mt := n.svc.mt.(*promTracer)
	return testutil.ToFloat64(mt.messages.WithLabelValues(topic, string(r)))
}

func newApp(t *testing.T, n *testNode, topic string, opts ...gs.Option) *testpubsub.App {
	t.Helper()
	return testpubsub.New(t, peer.AddrInfo{ID: n.h.ID(), Addrs: n.h.Addrs()}, topic, opts...)
}

func isMember(reg registry.Registry, ns string, p peer.ID) bool {
	_, ok := reg.Get(ns, p)
	return ok
}
