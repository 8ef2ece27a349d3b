package relay

import (
	"time"

	pbv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/pb"
	circuit "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"

	"github.com/ws-star/rendezvous/internal/limits"
)

// relayRefusals counts the relay's refusals on top of its own metrics, and
// tells the circuit gate about circuits opened and closed.
type relayRefusals struct {
	circuit.MetricsTracer
	obs  limits.Observer
	gate *circuitGate
}

func (t relayRefusals) ConnectionOpened() {
	t.gate.opened()
	t.MetricsTracer.ConnectionOpened()
}

func (t relayRefusals) ConnectionClosed(d time.Duration) {
	t.gate.closed()
	t.MetricsTracer.ConnectionClosed(d)
}

func (t relayRefusals) ReservationRequestHandled(status pbv2.Status) {
	if status == pbv2.Status_RESERVATION_REFUSED {
		t.obs.Refused(limits.RelayReservations)
	}
	t.MetricsTracer.ReservationRequestHandled(status)
}

func (t relayRefusals) ConnectionRequestHandled(status pbv2.Status) {
	if status == pbv2.Status_RESOURCE_LIMIT_EXCEEDED {
		t.obs.Refused(limits.RelayCircuits)
	}
	t.MetricsTracer.ConnectionRequestHandled(status)
}

// nopRelayTracer stands in for the relay's metrics when metrics are off, so
// refusals are still logged.
type nopRelayTracer struct{}

func (nopRelayTracer) RelayStatus(bool)                      {}
func (nopRelayTracer) ConnectionOpened()                     {}
func (nopRelayTracer) ConnectionClosed(time.Duration)        {}
func (nopRelayTracer) ConnectionRequestHandled(pbv2.Status)  {}
func (nopRelayTracer) ReservationAllowed(bool)               {}
func (nopRelayTracer) ReservationClosed(int)                 {}
func (nopRelayTracer) ReservationRequestHandled(pbv2.Status) {}
func (nopRelayTracer) BytesTransferred(int)                  {}
