package rendezvous

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/protocols/rendezvous/pb"
)

// metrics is nil-safe: a Service without a Registerer keeps none.
type metrics struct {
	requests        *prometheus.CounterVec
	discoverResults prometheus.Counter
	presenceDrops   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rendezvous_rendezvous_requests_total",
			Help: "Requests served on /rendezvous/1.0.0 by type and response status.",
		}, []string{"type", "status"}),
		discoverResults: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rendezvous_rendezvous_discover_results_total",
			Help: "Registrations returned in DISCOVER responses.",
		}),
		presenceDrops: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rendezvous_rendezvous_presence_drops_total",
			Help: "Relay-only registrations dropped after their peer disconnected.",
		}),
	}
	var err error
	m.requests, err = register(reg, m.requests)
	if err != nil {
		return nil, err
	}
	if m.discoverResults, err = register(reg, m.discoverResults); err != nil {
		return nil, err
	}
	if m.presenceDrops, err = register(reg, m.presenceDrops); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// the same description (a restarted service on the same registry).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}

func (m *metrics) request(t pb.Message_MessageType, s Status) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(t.String(), s.String()).Inc()
}

func (m *metrics) discovered(n int) {
	if m == nil || n == 0 {
		return
	}
	m.discoverResults.Add(float64(n))
}

func (m *metrics) presenceDrop() {
	if m == nil {
		return
	}
	m.presenceDrops.Inc()
}
