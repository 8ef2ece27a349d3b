package registry

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/internal/promreg"
)

// MetricsTracer is told what the registry does; it is the registry's only
// view of metrics. The Prometheus one is built by WithRegisterer; a registry
// without a registerer reports to a tracer that does nothing.
type MetricsTracer interface {
	// RegistrationRejected: Register refused a registration with reason,
	// one of this package's Err* values or another error.
	RegistrationRejected(reason error)
	// EventPublished: a membership event of kind was delivered to the
	// subscribers.
	EventPublished(kind EventKind)
	// HoldExpired: a rendezvous TTL hold ran out (the member may stay
	// through a live hold).
	HoldExpired()
}

// nopTracer is the tracer of a registry without a Registerer.
type nopTracer struct{}

func (nopTracer) RegistrationRejected(error) {}
func (nopTracer) EventPublished(EventKind)   {}
func (nopTracer) HoldExpired()               {}

var (
	_ MetricsTracer = nopTracer{}
	_ MetricsTracer = (*promTracer)(nil)
)

// promTracer implements MetricsTracer with the rendezvous_registry_* series
// and the rendezvous_registrations and rendezvous_namespaces gauges. Its
// collectors belong to one registry: a second registry on the same
// Registerer is refused rather than sharing them, and Close removes them.
type promTracer struct {
	set           *promreg.Set
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

// newPromTracer registers the registry's collectors with reg as one
// promreg.Set. counts is read when scraped, so the gauges show the registry
// that registered them.
func newPromTracer(reg prometheus.Registerer, lim Limits, counts func() (registrations, namespaces int)) (*promTracer, error) {
	t := &promTracer{
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
		t.events[k] = events.WithLabelValues(k.String())
	}

	rejections := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rendezvous_registry_rejections_total",
		Help: "Registrations refused, by reason.",
	}, []string{"reason"})
	for err, reason := range rejectionReasons {
		t.rejections[err] = rejections.WithLabelValues(reason)
	}
	t.rejectedOther = rejections.WithLabelValues("other")

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

	set, err := promreg.Register(reg, registrations, namespaces, t.expirations, events, rejections, limit)
	if err != nil {
		return nil, fmt.Errorf("registry: register rendezvous_registrations, rendezvous_namespaces and rendezvous_registry_* (another open registry may use this Registerer): %w", err)
	}
	t.set = set
	return t, nil
}

func (t *promTracer) RegistrationRejected(reason error) {
	if c := t.rejections[reason]; c != nil {
		c.Inc()
		return
	}
	t.rejectedOther.Inc()
}

func (t *promTracer) EventPublished(kind EventKind) {
	if c := t.events[kind]; c != nil {
		c.Inc()
	}
}

func (t *promTracer) HoldExpired() { t.expirations.Inc() }
