package cluster

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/internal/promreg"
)

// MetricsTracer is told what the cluster registry does; it is the
// registry's only view of metrics (its local copy has its own, see
// registry.MetricsTracer). The Prometheus one is built by WithRegisterer; a
// registry without a registerer reports to a tracer that does nothing.
type MetricsTracer interface {
	// ConnectionChanged: the NATS connection is up, or went down.
	ConnectionChanged(up bool)
	// Synced: the local copy is in sync with the bucket and JetStream
	// accepts writes.
	Synced()
	// Degraded: the node serves from its local copy only, until the next
	// Synced.
	Degraded()
	// LagChanged: the local copy has revisions bucket revisions left to
	// apply.
	LagChanged(revisions uint64)
	// NodesCounted: alive node processes are seen, this one included.
	NodesCounted(alive int)
	// PendingWritesChanged: n keys are applied locally and wait for
	// JetStream.
	PendingWritesChanged(n int)
	// LeaseRenewed, LeaseLost, LeaseRenewalFailed: a lease renewal
	// succeeded, found the lease lapsed, or failed.
	LeaseRenewed()
	LeaseLost()
	LeaseRenewalFailed()
	// WritePublished, WriteFailed, WriteDeferred: a write was taken by
	// JetStream, was refused by it, or was applied locally to be published
	// later (a refused write is deferred too).
	WritePublished()
	WriteFailed()
	WriteDeferred()
	// ResyncStarted: a full reload of the local copy from the bucket began.
	ResyncStarted()
}

// nopTracer is the tracer of a registry without a Registerer.
type nopTracer struct{}

func (nopTracer) ConnectionChanged(bool)   {}
func (nopTracer) Synced()                  {}
func (nopTracer) Degraded()                {}
func (nopTracer) LagChanged(uint64)        {}
func (nopTracer) NodesCounted(int)         {}
func (nopTracer) PendingWritesChanged(int) {}
func (nopTracer) LeaseRenewed()            {}
func (nopTracer) LeaseLost()               {}
func (nopTracer) LeaseRenewalFailed()      {}
func (nopTracer) WritePublished()          {}
func (nopTracer) WriteFailed()             {}
func (nopTracer) WriteDeferred()           {}
func (nopTracer) ResyncStarted()           {}

var (
	_ MetricsTracer = nopTracer{}
	_ MetricsTracer = (*promTracer)(nil)
)

// promTracer implements MetricsTracer with the rendezvous_cluster_* series.
// Its collectors belong to one registry: Close removes them.
type promTracer struct {
	set       *promreg.Set
	connected prometheus.Gauge
	ready     prometheus.Gauge
	lag       prometheus.Gauge
	nodes     prometheus.Gauge
	pending   prometheus.Gauge
	renewals  *prometheus.CounterVec
	writes    *prometheus.CounterVec
	resyncs   prometheus.Counter
}

// newPromTracer registers the registry's collectors with reg as one
// promreg.Set.
func newPromTracer(reg prometheus.Registerer) (*promTracer, error) {
	t := &promTracer{
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
		t.renewals.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "deferred", "failed"} {
		t.writes.WithLabelValues(r)
	}
	set, err := promreg.Register(reg, t.connected, t.ready, t.lag, t.nodes, t.pending, t.renewals, t.writes, t.resyncs)
	if err != nil {
		return nil, errors.Join(errors.New("cluster: register metrics"), err)
	}
	t.set = set
	return t, nil
}

func (t *promTracer) ConnectionChanged(up bool) {
	if up {
		t.connected.Set(1)
	} else {
		t.connected.Set(0)
	}
}

func (t *promTracer) Synced() {
	t.ready.Set(1)
	t.lag.Set(0)
}

func (t *promTracer) Degraded()                   { t.ready.Set(0) }
func (t *promTracer) LagChanged(revisions uint64) { t.lag.Set(float64(revisions)) }
func (t *promTracer) NodesCounted(alive int)      { t.nodes.Set(float64(alive)) }
func (t *promTracer) PendingWritesChanged(n int)  { t.pending.Set(float64(n)) }
func (t *promTracer) LeaseRenewed()               { t.renewals.WithLabelValues("ok").Inc() }
func (t *promTracer) LeaseLost()                  { t.renewals.WithLabelValues("lost").Inc() }
func (t *promTracer) LeaseRenewalFailed()         { t.renewals.WithLabelValues("failed").Inc() }
func (t *promTracer) WritePublished()             { t.writes.WithLabelValues("ok").Inc() }
func (t *promTracer) WriteFailed()                { t.writes.WithLabelValues("failed").Inc() }
func (t *promTracer) WriteDeferred()              { t.writes.WithLabelValues("deferred").Inc() }
func (t *promTracer) ResyncStarted()              { t.resyncs.Inc() }
