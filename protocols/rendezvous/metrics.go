package rendezvous

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/internal/promreg"
	"github.com/ws-star/rendezvous/protocols/rendezvous/pb"
)

// metrics is nil-safe: a Service without a Registerer keeps none. Its
// collectors belong to one service: Close removes them.
type metrics struct {
	reg             prometheus.Registerer
	collectors      []prometheus.Collector
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
	m.collectors = []prometheus.Collector{m.requests, m.discoverResults, m.presenceDrops}
	if err := promreg.RegisterAll(reg, m.collectors...); err != nil {
		return nil, fmt.Errorf("rendezvous: register metrics (another open service may use this Registerer): %w", err)
	}
	m.reg = reg
	return m, nil
}

// unregister removes the collectors, so a service started next on the same
// Registerer can register its own.
func (m *metrics) unregister() {
	if m == nil {
		return
	}
	promreg.UnregisterAll(m.reg, m.collectors...)
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
