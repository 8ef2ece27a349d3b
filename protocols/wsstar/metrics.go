package wsstar

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/internal/promreg"
	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
)

type metrics struct {
	views     prometheus.Gauge
	announced prometheus.Gauge
	streams   prometheus.Gauge
	joins     *prometheus.CounterVec
	events    *prometheus.CounterVec
	closes    *prometheus.CounterVec
	batchSize prometheus.Histogram
	// changeDelay: per flushed batch, how long its oldest change waited
	// from the registry to the stream (the server's part of join-to-visible).
	changeDelay prometheus.Histogram
	// registryPending: registry events queued for the views, one per member.
	registryPending prometheus.Gauge
	recordsDropped  prometheus.Counter
	eventsKind      [4]prometheus.Counter
	collectors      []prometheus.Collector
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		views: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rendezvous_wsstar_views", Help: "Open /ws-star/1.0.0 views (accepted joins).",
		}),
		announced: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rendezvous_wsstar_announced_members", Help: "Namespace memberships held by /ws-star/1.0.0 announces.",
		}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rendezvous_wsstar_streams", Help: "Open /ws-star/1.0.0 streams.",
		}),
		joins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rendezvous_wsstar_joins_total", Help: "Joins by answered status.",
		}, []string{"status"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rendezvous_wsstar_events_sent_total", Help: "Peer events sent, snapshots included, by kind.",
		}, []string{"kind"}),
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rendezvous_wsstar_closes_total", Help: "Views ended by the node, by Closed reason.",
		}, []string{"reason"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "rendezvous_wsstar_flush_batch_events",
			Help:    "Events per flushed (non-snapshot) Peers batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 7),
		}),
		changeDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "rendezvous_wsstar_change_delay_seconds",
			Help: "Per flushed Peers batch, seconds from its oldest registry change being queued for the views to the batch being handed to the stream.",
			// Around the 100 ms default flush interval in detail, then up
			// to a stalled service.
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .15, .2, .25, .5, 1, 2.5, 5, 10},
		}),
		registryPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rendezvous_wsstar_registry_events_pending",
			Help: "Registry membership changes waiting to be applied to the views, at most one per namespace member.",
		}),
		recordsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rendezvous_wsstar_identify_records_dropped_total",
			Help: "Signed peer records from identify dropped because too many peers' records were waiting for the service.",
		}),
	}
	for k := pb.PeerEvent_JOINED; k <= pb.PeerEvent_LEFT; k++ {
		m.eventsKind[k] = m.events.WithLabelValues(k.String())
	}
	for _, r := range []pb.Closed_CloseReason{pb.Closed_OVERFLOW, pb.Closed_SHUTDOWN, pb.Closed_POLICY} {
		m.closes.WithLabelValues(r.String())
	}
	m.collectors = []prometheus.Collector{m.views, m.announced, m.streams, m.joins, m.events, m.closes, m.batchSize, m.changeDelay, m.registryPending, m.recordsDropped}
	if err := promreg.RegisterAll(reg, m.collectors...); err != nil {
		return nil, errors.Join(errors.New("wsstar: register metrics"), err)
	}
	return m, nil
}

func (m *metrics) unregister(reg prometheus.Registerer) {
	promreg.UnregisterAll(reg, m.collectors...)
}
