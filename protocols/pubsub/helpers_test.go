package pubsub

import (
	"context"
	"sync"
	"testing"
	"time"

	gs "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ws-star/rendezvous/internal/setting"
	"github.com/ws-star/rendezvous/internal/testhost"
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

// app is a go-libp2p host running go-libp2p-pubsub, connected only to the
// node, as an unchanged pubsub-peer-discovery app is: it announces its key
// and its circuit address through the node, and records every peer it learns
// from the announcements it receives.
type app struct {
	t     *testing.T
	h     host.Host
	ps    *gs.PubSub
	node  host.Host
	topic *gs.Topic

	mu      sync.Mutex
	learned map[peer.ID][]ma.Multiaddr
	authors map[peer.ID]int
	other   []*gs.Message
}

func newApp(t *testing.T, n *testNode, topic string, opts ...gs.Option) *app {
	t.Helper()
	h := testhost.NewClient(t)
	testhost.Connect(t, h, n.h)
	// Flood publish, as js-libp2p's gossipsub does by default: go's default
	// publishes only to the mesh, empty until the first heartbeat.
	ps, err := gs.NewGossipSub(t.Context(), h, append([]gs.Option{gs.WithFloodPublish(true)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	a := &app{t: t, h: h, ps: ps, node: n.h, learned: make(map[peer.ID][]ma.Multiaddr), authors: make(map[peer.ID]int)}
	a.topic = a.join(topic)
	sub, err := a.topic.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	go a.read(t.Context(), sub)
	testhost.Eventually(t, "the node among the app's topic peers", func() bool {
		for _, p := range a.topic.ListPeers() {
			if p == n.h.ID() {
				return true
			}
		}
		return false
	})
	return a
}

func (a *app) join(topic string) *gs.Topic {
	a.t.Helper()
	tp, err := a.ps.Join(topic)
	if err != nil {
		a.t.Fatal(err)
	}
	return tp
}

func (a *app) read(ctx context.Context, sub *gs.Subscription) {
	for {
		m, err := sub.Next(ctx)
		if err != nil {
			return
		}
		if m.ReceivedFrom == a.h.ID() {
			continue // its own publication, delivered locally
		}
		a.mu.Lock()
		a.authors[m.GetFrom()]++
		if ann, err := decodeAnnouncement(m.Data, 1<<20, 1000); err == nil {
			a.learned[ann.id] = ann.addrs
		} else {
			a.other = append(a.other, m)
		}
		a.mu.Unlock()
	}
}

// circuitAddr is the app's address through the node.
func (a *app) circuitAddr() ma.Multiaddr {
	return a.node.Addrs()[0].Encapsulate(ma.StringCast("/p2p/" + a.node.ID().String() + "/p2p-circuit/p2p/" + a.h.ID().String()))
}

// announce publishes what pubsub-peer-discovery publishes.
func (a *app) announce() {
	a.t.Helper()
	a.publish(a.topic, a.h.Peerstore().PubKey(a.h.ID()), a.circuitAddr())
}

func (a *app) publish(tp *gs.Topic, key crypto.PubKey, addrs ...ma.Multiaddr) {
	a.t.Helper()
	data, err := encodeAnnouncement(key, addrs)
	if err != nil {
		a.t.Fatal(err)
	}
	if err := tp.Publish(a.t.Context(), data); err != nil {
		a.t.Fatal(err)
	}
}

func (a *app) knows(p peer.ID) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.learned[p]
	return ok
}

func (a *app) learnedCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.learned)
}

// heardFrom counts the messages whose author is p.
func (a *app) heardFrom(p peer.ID) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.authors[p]
}

func isMember(reg registry.Registry, ns string, p peer.ID) bool {
	_, ok := reg.Get(ns, p)
	return ok
}
