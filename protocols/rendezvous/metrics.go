package rendezvous

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ws-star/rendezvous/internal/promreg"
	"github.com/ws-star/rendezvous/protocols/rendezvous/pb"
)

// MetricsTracer is told what the service does; it is the service's only
// view of metrics. The Prometheus one is built by WithRegisterer; a service
// without a registerer reports to a tracer that does nothing.
type MetricsTracer interface {
	// RequestAnswered: a request of type t was answered with status (an
	// UNREGISTER, which has no reply, with StatusOK).
	RequestAnswered(t pb.Message_MessageType, status Status)
	// RegistrationsDiscovered: a DISCOVER response carried n registrations.
	RegistrationsDiscovered(n int)
	// PresenceDropped: a relay-only registration was dropped after its peer
	// disconnected.
	PresenceDropped()
}

// nopTracer is the tracer of a service without a Registerer.
type nopTracer struct{}

func (nopTracer) RequestAnswered(pb.Message_MessageType, Status) {}
func (nopTracer) RegistrationsDiscovered(int)                    {}
func (nopTracer) PresenceDropped()                               {}

var (
	_ MetricsTracer = nopTracer{}
	_ MetricsTracer = (*promTracer)(nil)
)

// promTracer implements MetricsTracer with the rendezvous_rendezvous_*
// series. Its collectors belong to one service: Close removes them.
type promTracer struct {
	set             *promreg.Set
	requests        *prometheus.CounterVec
	discoverResults prometheus.Counter
	presenceDrops   prometheus.Counter
}

// newPromTracer registers the service's collectors with reg as one
// promreg.Set.
func newPromTracer(reg prometheus.Registerer) (*promTracer, error) {
	t := &promTracer{
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
	set, err := promreg.Register(reg, t.requests, t.discoverResults, t.presenceDrops)
	if err != nil {
		return nil, fmt.Errorf("rendezvous: register metrics (another open service may use this Registerer): %w", err)
	}
	t.set = set
	return t, nil
}

func (t *promTracer) RequestAnswered(typ pb.Message_MessageType, status Status) {
	t.requests.WithLabelValues(typ.String(), status.String()).Inc()
}

func (t *promTracer) RegistrationsDiscovered(n int) {
	if n > 0 {
		t.discoverResults.Add(float64(n))
	}
}

func (t *promTracer) PresenceDropped() { t.presenceDrops.Inc() }
