package registry

import (
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics is nil when no Registerer was given; every method accepts a nil
// receiver so call sites need no checks.
type metrics struct {
	registrations prometheus.Gauge
	namespaces    prometheus.Gauge
	expirations   prometheus.Counter
	events        map[EventKind]prometheus.Counter
	rejections    map[error]prometheus.Counter
	rejectedOther prometheus.Counter
}

// rejectionReasons are the label values of rendezvous_registry_rejections_total.
var rejectionReasons = map[error]string{
	ErrInvalidNamespace:  "invalid_namespace",
	ErrInvalidPeer:       "invalid_peer",
	ErrInvalidSource:     "invalid_source",
	ErrInvalidExpiry:     "invalid_expiry",
	ErrNoAddrs:           "no_addrs",
	ErrTooManyAddrs:      "too_many_addrs",
	ErrRecordTooLarge:    "record_too_large",
	ErrTooManyForPeer:    "too_many_for_peer",
	ErrFull:              "full",
	ErrTooManyNamespaces: "too_many_namespaces",
}

func newMetrics(r prometheus.Registerer, lim Limits, log *slog.Logger) *metrics {
	if r == nil {
		return nil
	}
	m := &metrics{
		registrations: register(r, log, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rendezvous_registrations",
			Help: "Members over all namespaces.",
		})),
		namespaces: register(r, log, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rendezvous_namespaces",
			Help: "Namespaces with at least one member.",
		})),
		expirations: register(r, log, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rendezvous_registry_expirations_total",
			Help: "Rendezvous TTL holds that ran out (the member may stay through a live hold).",
		})),
		events:     map[EventKind]prometheus.Counter{},
		rejections: map[error]prometheus.Counter{},
	}
	events := register(r, log, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rendezvous_registry_events_total",
		Help: "Membership events by kind.",
	}, []string{"kind"}))
	for _, k := range []EventKind{Joined, Updated, Left} {
		m.events[k] = events.WithLabelValues(k.String())
	}

	rejections := register(r, log, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rendezvous_registry_rejections_total",
		Help: "Registrations refused, by reason.",
	}, []string{"reason"}))
	for err, reason := range rejectionReasons {
		m.rejections[err] = rejections.WithLabelValues(reason)
	}
	m.rejectedOther = rejections.WithLabelValues("other")

	limit := register(r, log, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "rendezvous_registry_limit",
		Help: "Configured registry limits.",
	}, []string{"name"}))
	limit.WithLabelValues("registrations_per_peer").Set(float64(lim.MaxRegistrationsPerPeer))
	limit.WithLabelValues("registrations").Set(float64(lim.MaxRegistrations))
	limit.WithLabelValues("namespaces").Set(float64(lim.MaxNamespaces))
	limit.WithLabelValues("namespace_len").Set(float64(lim.MaxNamespaceLen))
	limit.WithLabelValues("addrs_per_record").Set(float64(lim.MaxAddrsPerRecord))
	limit.WithLabelValues("record_size").Set(float64(lim.MaxRecordSize))
	return m
}

// register adds c to r, or reuses an identical collector already there, so a
// registry restarted on the same Registerer keeps reporting instead of failing.
func register[C prometheus.Collector](r prometheus.Registerer, log *slog.Logger, c C) C {
	err := r.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	log.Warn("registry: metric not registered", "err", err)
	return c
}

func (m *metrics) setCounts(registrations, namespaces int) {
	if m == nil {
		return
	}
	m.registrations.Set(float64(registrations))
	m.namespaces.Set(float64(namespaces))
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
