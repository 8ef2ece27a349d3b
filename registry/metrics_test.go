package registry

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestMetricsTrackRegistry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		m := newMemory(t, WithRegisterer(reg), withLimits(func(l *Limits) { l.MaxRegistrations = 3 }))
		mustRegister(t, m, liveReg(t, "a", 1))
		mustRegister(t, m, liveReg(t, "b", 1))
		mustRegister(t, m, ttlReg(t, "b", 2, time.Minute))
		r := liveReg(t, "a", 1)
		r.Envelope = []byte{1}
		mustRegister(t, m, r) // updated
		if _, err := m.Register(liveReg(t, "c", 3)); err != ErrFull {
			t.Fatalf("got %v, want ErrFull", err)
		}
		if _, err := m.Register(liveReg(t, "", 3)); err != ErrInvalidNamespace {
			t.Fatalf("got %v, want ErrInvalidNamespace", err)
		}
		m.Unregister("a", testPeer(1), SourceLive, ReasonUnregistered)
		time.Sleep(time.Minute)
		synctest.Wait()

		for _, c := range []struct {
			name, label, value string
			want               float64
		}{
			{"rendezvous_namespaces", "", "", 1},
			{"rendezvous_registrations", "", "", 1},
			{"rendezvous_registry_events_total", "kind", "joined", 3},
			{"rendezvous_registry_events_total", "kind", "updated", 1},
			{"rendezvous_registry_events_total", "kind", "left", 2},
			{"rendezvous_registry_expirations_total", "", "", 1},
			{"rendezvous_registry_rejections_total", "reason", "full", 1},
			{"rendezvous_registry_rejections_total", "reason", "invalid_namespace", 1},
			{"rendezvous_registry_rejections_total", "reason", "too_many_addrs", 0},
			{"rendezvous_registry_limit", "name", "registrations", 3},
			{"rendezvous_registry_limit", "name", "registrations_per_peer", 32},
		} {
			if got := gatherValue(t, reg, c.name, c.label, c.value); got != c.want {
				t.Errorf("%s{%s=%q} = %v, want %v", c.name, c.label, c.value, got, c.want)
			}
		}
	})
}

// gatherValue returns the value of the series of name whose label has value
// (any series when label is ""), failing when there is none.
func gatherValue(t *testing.T, g prometheus.Gatherer, name, label, value string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					match = true
				}
			}
			if !match {
				continue
			}
			switch {
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Counter != nil:
				return m.Counter.GetValue()
			}
		}
	}
	t.Fatalf("no series %s{%s=%q}", name, label, value)
	return 0
}

func TestASecondRegistryOnOneRegistererIsRefusedAndTheFirstKeepsReporting(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := New(WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	mustRegister(t, a, liveReg(t, "x", 1))
	mustRegister(t, a, liveReg(t, "y", 2))

	b, err := New(WithRegisterer(reg))
	if err == nil {
		t.Cleanup(func() { _ = b.Close() })
		mustRegister(t, b, liveReg(t, "z", 3))
		t.Error("a second registry on the same Registerer was accepted")
	} else if !strings.Contains(err.Error(), "rendezvous_") {
		t.Errorf("error %q does not name the metrics", err)
	}
	if got := gatherValue(t, reg, "rendezvous_registrations", "", ""); got != 2 {
		t.Errorf("rendezvous_registrations = %v, want the first registry's 2", got)
	}
	if got := gatherValue(t, reg, "rendezvous_namespaces", "", ""); got != 2 {
		t.Errorf("rendezvous_namespaces = %v, want the first registry's 2", got)
	}
}

func TestARegistryReopenedOnTheSameRegistererReportsItsOwnValues(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := New(WithRegisterer(reg), withLimits(func(l *Limits) { l.MaxRegistrations = 10 }))
	if err != nil {
		t.Fatal(err)
	}
	mustRegister(t, a, liveReg(t, "x", 1))
	mustRegister(t, a, liveReg(t, "y", 2))
	mustRegister(t, a, liveReg(t, "y", 3))
	_ = a.Close()

	b, err := New(WithRegisterer(reg), withLimits(func(l *Limits) { l.MaxRegistrations = 20 }))
	if err != nil {
		t.Fatalf("a registry after a closed one on the same Registerer: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	mustRegister(t, b, liveReg(t, "z", 4))
	for _, c := range []struct {
		name, label, value string
		want               float64
	}{
		{"rendezvous_registrations", "", "", 1},
		{"rendezvous_namespaces", "", "", 1},
		{"rendezvous_registry_events_total", "kind", "joined", 1},
		{"rendezvous_registry_limit", "name", "registrations", 20},
	} {
		if got := gatherValue(t, reg, c.name, c.label, c.value); got != c.want {
			t.Errorf("%s{%s=%q} = %v, want %v", c.name, c.label, c.value, got, c.want)
		}
	}
}

func TestNoRegistererMeansNoMetrics(t *testing.T) {
	m := newMemory(t)
	if _, ok := m.mt.(nopTracer); !ok || m.metricSet != nil {
		t.Fatal("metrics collected without a Registerer")
	}
	mustRegister(t, m, liveReg(t, "ns", 1))
}
