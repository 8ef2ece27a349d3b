package wsstar

import (
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
	"github.com/ws-star/rendezvous/registry"
)

func gathered(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			switch {
			case m.GetGauge() != nil:
				out[name] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				out[name] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				out[name] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

func TestMetricsFollowViewsMembersAndEvents(t *testing.T) {
	reg := prometheus.NewRegistry()
	n := newNode(t, nil, WithRegisterer(reg))
	a, _ := n.dial(t)
	join(t, a, "ns", true, 0)
	b, hb := n.dial(t)
	join(t, b, "ns", true, 0)
	expectEvent(t, a, hb.ID())

	m := gathered(t, reg)
	for name, want := range map[string]float64{
		"rendezvous_wsstar_views":                          2,
		"rendezvous_wsstar_announced_members":              2,
		"rendezvous_wsstar_streams":                        2,
		"rendezvous_wsstar_joins_total{status=OK}":         2,
		"rendezvous_wsstar_events_sent_total{kind=JOINED}": 2, // b's snapshot and a's batch
		"rendezvous_wsstar_flush_batch_events":             1,
		"rendezvous_wsstar_change_delay_seconds":           1, // one per flushed batch
		"rendezvous_wsstar_closes_total{reason=OVERFLOW}":  0,
	} {
		if got, ok := m[name]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	// A second service cannot register the same metrics on one registry.
	if _, err := New(n.h, n.reg, WithRegisterer(reg)); err == nil {
		t.Error("duplicate registration accepted")
	}
	_ = n.svc.Close()
	if len(gathered(t, reg)) != 0 {
		t.Error("Close left metrics registered")
	}
}

// While the service is busy, a flood of registry changes for two members
// keeps one pending entry each (the gauge says so), and the watcher then gets
// each member's final state.
func TestRegistryFloodWhileTheServiceIsBusyQueuesOneEntryPerMember(t *testing.T) {
	reg := prometheus.NewRegistry()
	n := newNode(t, nil, WithRegisterer(reg))
	w, _ := n.dial(t)
	stayer, leaver := randomPeer(t), randomPeer(t)
	register := func(p peer.ID, a ma.Multiaddr) {
		if _, err := n.reg.Register(registry.Registration{Namespace: "ns", Peer: p, Addrs: []ma.Multiaddr{a}, Source: registry.SourceLive}); err != nil {
			t.Fatal(err)
		}
	}
	register(leaver, testAddr)
	if _, snap := join(t, w, "ns", false, 0); len(snap.Events) != 1 {
		t.Fatalf("snapshot %+v, want the leaver", snap)
	}

	n.svc.mu.Lock()
	for i := range 500 {
		register(stayer, ma.StringCast(fmt.Sprintf("/ip4/10.0.0.1/tcp/%d/ws", i+1)))
		n.reg.Unregister("ns", leaver, registry.SourceLive, registry.ReasonDisconnected)
		register(leaver, testAddr)
	}
	n.reg.Unregister("ns", leaver, registry.SourceLive, registry.ReasonExpired)
	pending, ok := gathered(t, reg)["rendezvous_wsstar_registry_events_pending"]
	n.svc.mu.Unlock()
	if !ok || pending > 2 {
		t.Fatalf("pending registry events %v (present %v), want at most 2", pending, ok)
	}

	// The feeder may have read a member's state before the lock was taken
	// and applies it once released: views can show an intermediate state,
	// then the final one.
	final := ma.StringCast("/ip4/10.0.0.1/tcp/500/ws")
	last := map[peer.ID]PeerEvent{}
	done := func() bool {
		s, l := last[stayer], last[leaver]
		return s.Kind != pb.PeerEvent_LEFT && len(s.Addrs) == 1 && s.Addrs[0].Equal(final) && l.Kind == pb.PeerEvent_LEFT
	}
	for !done() {
		for _, e := range nextUpdate(t, w).Events {
			if e.Peer != stayer && e.Peer != leaver {
				t.Fatalf("event %+v about neither member", e)
			}
			last[e.Peer] = e
		}
	}
	eventually(t, "no pending registry events", func() bool {
		return gathered(t, reg)["rendezvous_wsstar_registry_events_pending"] == 0
	})
}

// The change delay spans the whole wait of a registry change: held off by a
// busy service for some time, the batch that finally carries it reports at
// least that long.
func TestChangeDelayIncludesTheTimeAChangeWaitsForABusyService(t *testing.T) {
	reg := prometheus.NewRegistry()
	n := newNode(t, nil, WithRegisterer(reg))
	w, _ := n.dial(t)
	join(t, w, "ns", false, 0)

	const held = 300 * time.Millisecond
	p := randomPeer(t)
	n.svc.mu.Lock()
	if _, err := n.reg.Register(registry.Registration{Namespace: "ns", Peer: p, Addrs: []ma.Multiaddr{testAddr}, Source: registry.SourceLive}); err != nil {
		n.svc.mu.Unlock()
		t.Fatal(err)
	}
	time.Sleep(held)
	n.svc.mu.Unlock()
	expectEvent(t, w, p)

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "rendezvous_wsstar_change_delay_seconds" {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		if h.GetSampleCount() != 1 || h.GetSampleSum() < held.Seconds() {
			t.Fatalf("change delay: %d samples summing %.3fs, want 1 of at least %v", h.GetSampleCount(), h.GetSampleSum(), held)
		}
		return
	}
	t.Fatal("rendezvous_wsstar_change_delay_seconds not exposed")
}
