package wsstar

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
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
