package cluster

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/internal/promreg"
)

// metrics are the rendezvous_cluster_* series. A Registry always has one;
// without a Registerer the collectors are simply not exported.
type metrics struct {
	connected  prometheus.Gauge
	ready      prometheus.Gauge
	lag        prometheus.Gauge
	nodes      prometheus.Gauge
	pending    prometheus.Gauge
	renewals   *prometheus.CounterVec
	writes     *prometheus.CounterVec
	resyncs    prometheus.Counter
	collectors []prometheus.Collector
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rendezvous_cluster_connected", Help: "1 while the node's NATS connection is up.",
		}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rendezvous_cluster_ready", Help: "1 while the local copy is in sync and JetStream accepts writes.",
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rendezvous_cluster_lag", Help: "Bucket revisions the local copy has not applied yet.",
		}),
		nodes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rendezvous_cluster_nodes", Help: "Live node processes seen, this one included.",
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rendezvous_cluster_pending_writes", Help: "Keys applied locally and waiting for JetStream.",
		}),
		renewals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rendezvous_cluster_lease_renewals_total", Help: "Lease renewals by result (ok, failed, lost).",
		}, []string{"result"}),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rendezvous_cluster_writes_total", Help: "Writes to the bucket by result (ok, deferred, failed).",
		}, []string{"result"}),
		resyncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rendezvous_cluster_resyncs_total", Help: "Full reloads of the local copy from the bucket.",
		}),
	}
	for _, r := range []string{"ok", "failed", "lost"} {
		m.renewals.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "deferred", "failed"} {
		m.writes.WithLabelValues(r)
	}
	m.collectors = []prometheus.Collector{m.connected, m.ready, m.lag, m.nodes, m.pending, m.renewals, m.writes, m.resyncs}
	if err := promreg.RegisterAll(reg, m.collectors...); err != nil {
		return nil, errors.Join(errors.New("cluster: register metrics"), err)
	}
	return m, nil
}

func (m *metrics) unregister(reg prometheus.Registerer) {
	promreg.UnregisterAll(reg, m.collectors...)
}

func boolGauge(g prometheus.Gauge, v bool) {
	if v {
		g.Set(1)
	} else {
		g.Set(0)
	}
}
