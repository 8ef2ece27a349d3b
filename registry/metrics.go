package registry

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/internal/promreg"
)

// metrics is nil when no Registerer was given; every method accepts a nil
// receiver so call sites need no checks. Its collectors belong to one
// registry: a second registry on the same Registerer is refused rather than
// sharing them, and Close removes them.
type metrics struct {
	reg           prometheus.Registerer
	collectors    []prometheus.Collector
	expirations   prometheus.Counter
	events        map[EventKind]prometheus.Counter
	rejections    map[error]prometheus.Counter
	rejectedOther prometheus.Counter
}

// rejectionReasons are the label values of rendezvous_registry_rejections_total.
var rejectionReasons = map[error]string{
	ErrInvalidNamespace:    "invalid_namespace",
	ErrInvalidPeer:         "invalid_peer",
	ErrInvalidSource:       "invalid_source",
	ErrInvalidExpiry:       "invalid_expiry",
	ErrNoAddrs:             "no_addrs",
	ErrTooManyAddrs:        "too_many_addrs",
	ErrRecordTooLarge:      "record_too_large",
	ErrTooManyForPeer:      "too_many_for_peer",
	ErrFull:                "full",
	ErrTooManyNamespaces:   "too_many_namespaces",
	ErrNamespaceNotAllowed: "namespace_not_allowed",
	ErrNamespaceFull:       "namespace_full",
}

// newMetrics registers the registry's collectors with r. counts is read
// when scraped, so the gauges show the registry that registered them.
func newMetrics(r prometheus.Registerer, lim Limits, counts func() (registrations, namespaces int)) (*metrics, error) {
	if r == nil {
		return nil, nil
	}
	m := &metrics{
		reg: r,
		expirations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rendezvous_registry_expirations_total",
			Help: "Rendezvous TTL holds that ran out (the member may stay through a live hold).",
		}),
		events:     map[EventKind]prometheus.Counter{},
		rejections: map[error]prometheus.Counter{},
	}
	registrations := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "rendezvous_registrations",
		Help: "Members over all namespaces.",
	}, func() float64 { n, _ := counts(); return float64(n) })
	namespaces := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "rendezvous_namespaces",
		Help: "Namespaces with at least one member.",
	}, func() float64 { _, n := counts(); return float64(n) })

	events := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rendezvous_registry_events_total",
		Help: "Membership events by kind.",
	}, []string{"kind"})
	for _, k := range []EventKind{Joined, Updated, Left} {
		m.events[k] = events.WithLabelValues(k.String())
	}

	rejections := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rendezvous_registry_rejections_total",
		Help: "Registrations refused, by reason.",
	}, []string{"reason"})
	for err, reason := range rejectionReasons {
		m.rejections[err] = rejections.WithLabelValues(reason)
	}
	m.rejectedOther = rejections.WithLabelValues("other")

	limit := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "rendezvous_registry_limit",
		Help: "Configured registry limits.",
	}, []string{"name"})
	limit.WithLabelValues("registrations_per_peer").Set(float64(lim.MaxRegistrationsPerPeer))
	limit.WithLabelValues("registrations").Set(float64(lim.MaxRegistrations))
	limit.WithLabelValues("namespaces").Set(float64(lim.MaxNamespaces))
	limit.WithLabelValues("namespace_len").Set(MaxNamespaceLen)
	limit.WithLabelValues("addrs_per_record").Set(float64(lim.MaxAddrsPerRecord))
	limit.WithLabelValues("record_size").Set(float64(lim.MaxRecordSize))

	m.collectors = []prometheus.Collector{registrations, namespaces, m.expirations, events, rejections, limit}
	if err := promreg.RegisterAll(r, m.collectors...); err != nil {
		return nil, fmt.Errorf("registry: register rendezvous_registrations, rendezvous_namespaces and rendezvous_registry_* (another open registry may use this Registerer): %w", err)
	}
	return m, nil
}

// unregister removes the collectors, so a registry started next on the same
// Registerer can register its own.
func (m *metrics) unregister() {
	if m == nil {
		return
	}
	promreg.UnregisterAll(m.reg, m.collectors...)
}

func (m *metrics) event(k EventKind) {
	if m == nil {
		return
	}
	if c := m.events[k]; c != nil {
		c.Inc()
	}
}

func (m *metrics) rejected(err error) {
	if m == nil {
		return
	}
	if c := m.rejections[err]; c != nil {
		c.Inc()
		return
	}
	m.rejectedOther.Inc()
}

func (m *metrics) expired() {
	if m == nil {
		return
	}
	m.expirations.Inc()
}
