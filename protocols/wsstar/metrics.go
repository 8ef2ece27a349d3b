package wsstar

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/internal/promreg"
	"github.com/ws-star/rendezvous/protocols/wsstar/pb"
)

// MetricsTracer is told what the service does; it is the service's only
// view of metrics. The Prometheus one is built by WithRegisterer; a service
// without a registerer reports to a tracer that does nothing.
type MetricsTracer interface {
	// StreamsOpen, ViewsOpen: the current number of streams and views.
	StreamsOpen(n int)
	ViewsOpen(n int)
	// MembershipHeld: a peer's membership of a namespace was written
	// (held) or removed (!held) by the service.
	MembershipHeld(held bool)
	// JoinAnswered: a Join got its ack.
	JoinAnswered(status pb.JoinAck_Status)
	// EventsSent: n peer events of kind went out, snapshots included.
	EventsSent(kind pb.PeerEvent_Kind, n int)
	// BatchFlushed: a flush took a view's n changes, the oldest of which
	// was queued delay ago.
	BatchFlushed(n int, delay time.Duration)
	// ViewClosed: the node ended a view.
	ViewClosed(reason pb.Closed_CloseReason)
	// RegistryEventsPending: the registry changes waiting for the feeder.
	RegistryEventsPending(n int)
	// RecordDropped: an identify record was dropped, too many waiting.
	RecordDropped()
}

type nopTracer struct{}

func (nopTracer) StreamsOpen(int)                   {}
func (nopTracer) ViewsOpen(int)                     {}
func (nopTracer) MembershipHeld(bool)               {}
func (nopTracer) JoinAnswered(pb.JoinAck_Status)    {}
func (nopTracer) EventsSent(pb.PeerEvent_Kind, int) {}
func (nopTracer) BatchFlushed(int, time.Duration)   {}
func (nopTracer) ViewClosed(pb.Closed_CloseReason)  {}
func (nopTracer) RegistryEventsPending(int)         {}
func (nopTracer) RecordDropped()                    {}

// promTracer is the MetricsTracer of Prometheus collectors, registered as one
// unit when the service starts and removed by its Close.
type promTracer struct {
	set       *promreg.Set
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
}

func newPromTracer(reg prometheus.Registerer) (*promTracer, error) {
	m := &promTracer{
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
	var err error
	m.set, err = promreg.Register(reg, m.views, m.announced, m.streams, m.joins, m.events, m.closes, m.batchSize, m.changeDelay, m.registryPending, m.recordsDropped)
	if err != nil {
		return nil, errors.Join(errors.New("wsstar: register metrics"), err)
	}
	return m, nil
}

func (m *promTracer) StreamsOpen(n int) { m.streams.Set(float64(n)) }
func (m *promTracer) ViewsOpen(n int)   { m.views.Set(float64(n)) }

func (m *promTracer) MembershipHeld(held bool) {
	if held {
		m.announced.Inc()
	} else {
		m.announced.Dec()
	}
}

func (m *promTracer) JoinAnswered(st pb.JoinAck_Status) { m.joins.WithLabelValues(st.String()).Inc() }

func (m *promTracer) EventsSent(kind pb.PeerEvent_Kind, n int) {
	if kind > 0 && int(kind) < len(m.eventsKind) {
		m.eventsKind[kind].Add(float64(n))
	}
}

func (m *promTracer) BatchFlushed(n int, delay time.Duration) {
	m.batchSize.Observe(float64(n))
	m.changeDelay.Observe(delay.Seconds())
}

func (m *promTracer) ViewClosed(r pb.Closed_CloseReason) { m.closes.WithLabelValues(r.String()).Inc() }
func (m *promTracer) RegistryEventsPending(n int)        { m.registryPending.Set(float64(n)) }
func (m *promTracer) RecordDropped()                     { m.recordsDropped.Inc() }
